"""Resumable uploads: the tus 1.0 protocol (core, creation, checksum, termination).

Real tus clients exist for Android, iOS and Python (`tuspy`). The upload's state lives in the
database and its chunks in the object store, so a PATCH may reach any ingest replica and
continue from the last offset. The device's signed claim rides in `Upload-Metadata` and is
checked at creation: a forged or out-of-scope upload is refused before it can store a byte.
A PATCH cut off by a dropped connection keeps the bytes that arrived, so a weak rural link
makes progress with every attempt instead of starting over.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import update

from services.ingest.body import read_body
from services.ingest.claims import VerifiedClaim, parse_claim, verify_claim
from services.ingest.intake import Receipt, existing_receipt, hand_off, receipt_of
from services.ingest.photo_check import check_photo, sniff_content_type
from services.ingest.state import IngestState, StateDep
from shared.db.base import utcnow
from shared.db.tables import Device, Submission, Tps, UploadSession
from shared.errors import (
    BadRequest,
    Conflict,
    Gone,
    NotFound,
    PayloadTooLarge,
    SirekapError,
    Unprocessable,
    UnsupportedMediaType,
)
from shared.signing import UploadClaim
from shared.storage import upload_chunk_key

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,checksum,termination"
CHECKSUM_ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "md5": hashlib.md5}
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"

router = APIRouter(prefix="/v1/tus", tags=["tus"])


class PreconditionFailed(SirekapError):
    """The client speaks a tus version this server does not."""

    status_code = 412
    detail_id_default = "Versi protokol unggah tidak didukung; perbarui aplikasi."


class ChecksumMismatch(SirekapError):
    """The chunk's checksum does not match its bytes (tus status 460)."""

    status_code = 460
    detail_id_default = "Potongan foto rusak saat dikirim; kirim ulang potongan ini."


def tus_headers(**extra: str) -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store", **extra}


def _require_tus(tus_resumable: str | None) -> None:
    if tus_resumable != TUS_VERSION:
        raise PreconditionFailed(
            f"Tus-Resumable must be {TUS_VERSION}", headers={"Tus-Version": TUS_VERSION}
        )


def parse_metadata(header: str | None) -> dict[str, str]:
    """`key base64value,key2 base64value2` → dict; values must be UTF-8."""
    result: dict[str, str] = {}
    if not header:
        return result
    for pair in header.split(","):
        parts = pair.strip().split(" ")
        if not parts[0] or len(parts) > 2:
            raise BadRequest("malformed Upload-Metadata", "Metadata unggahan tidak valid.")
        try:
            value = base64.b64decode(parts[1], validate=True).decode() if len(parts) == 2 else ""
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise BadRequest(
                f"Upload-Metadata value of {parts[0]!r} is not base64 UTF-8",
                "Metadata unggahan tidak valid.",
            ) from exc
        result[parts[0]] = value
    return result


@router.options("", status_code=204, summary="tus capabilities")
async def tus_options(state: StateDep) -> Response:
    return Response(
        status_code=204,
        headers=tus_headers(
            **{
                "Tus-Version": TUS_VERSION,
                "Tus-Extension": TUS_EXTENSIONS,
                "Tus-Max-Size": str(state.settings.max_upload_bytes),
                "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS),
            }
        ),
    )


@router.post("", status_code=201, summary="Create a resumable upload (tus creation)")
async def tus_create(
    request: Request,
    state: StateDep,
    upload_length: Annotated[str | None, Header(max_length=20)] = None,
    upload_metadata: Annotated[str | None, Header(max_length=4096)] = None,
    tus_resumable: Annotated[str | None, Header()] = None,
) -> Response:
    _require_tus(tus_resumable)
    if upload_length is None or not upload_length.isdigit():
        raise BadRequest("Upload-Length is required", "Ukuran foto (Upload-Length) wajib diisi.")
    length = int(upload_length)
    if length == 0:
        raise BadRequest("the upload is empty", "Foto kosong; kirim ulang.")
    if length > state.settings.max_upload_bytes:
        limit = state.settings.max_upload_bytes
        raise PayloadTooLarge(
            f"Upload-Length exceeds the limit of {limit:,} bytes",
            f"Foto melebihi batas {limit // (1024 * 1024)} MiB.",
        )
    meta = parse_metadata(upload_metadata)
    claim = parse_claim(
        device_id=meta.get("device"),
        tps=meta.get("tps"),
        contest=meta.get("contest"),
        page=meta.get("page"),
        sha256=meta.get("sha256"),
        captured_at=meta.get("captured_at"),
    )
    async with state.db.transaction() as session:
        verified = await verify_claim(session, claim, meta.get("signature"), state.settings)
        upload = UploadSession(
            id=uuid.uuid4().hex,
            device_id=claim.device_id,
            tps_code=claim.tps,
            contest=claim.contest,
            page=claim.page,
            sha256=claim.sha256,
            captured_at=verified.captured_at,
            captured_at_raw=claim.captured_at,
            signature=verified.signature,
            length=length,
            offset=0,
            chunk_keys=[],
            expires_at=utcnow() + timedelta(seconds=state.settings.tus_expiry_s),
        )
        session.add(upload)
    location = str(request.url_for("tus_head", upload_id=upload.id))
    return Response(status_code=201, headers=tus_headers(Location=location))


async def _load(state: IngestState, upload_id: str) -> UploadSession:
    async with state.db.reading() as session:
        upload = await session.get(UploadSession, upload_id[:64])
    if upload is None:
        raise NotFound("no such upload", "Unggahan tidak ditemukan; mulai unggah dari awal.")
    if upload.expires_at < utcnow() and upload.submission_id is None:
        raise Gone("the upload has expired", "Unggahan kedaluwarsa; mulai unggah dari awal.")
    return upload


@router.head("/{upload_id}", summary="Where to resume (tus core)")
async def tus_head(
    upload_id: str, state: StateDep, tus_resumable: Annotated[str | None, Header()] = None
) -> Response:
    _require_tus(tus_resumable)
    upload = await _load(state, upload_id)
    return Response(
        status_code=200,
        headers=tus_headers(
            **{"Upload-Offset": str(upload.offset), "Upload-Length": str(upload.length)}
        ),
    )


def _check_checksum(header: str | None, data: bytes | bytearray) -> None:
    if not header:
        return
    try:
        algorithm, encoded = header.split(" ", 1)
        expected = base64.b64decode(encoded, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise BadRequest("malformed Upload-Checksum", "Checksum unggahan tidak valid.") from exc
    factory = CHECKSUM_ALGORITHMS.get(algorithm)
    if factory is None:
        raise BadRequest(f"unsupported checksum algorithm {algorithm!r}")
    if factory(data).digest() != expected:
        raise ChecksumMismatch("the chunk's checksum does not match its bytes")


@router.patch("/{upload_id}", status_code=204, summary="Send bytes from an offset (tus core)")
async def tus_patch(
    upload_id: str,
    request: Request,
    state: StateDep,
    upload_offset: Annotated[str | None, Header(max_length=20)] = None,
    upload_checksum: Annotated[str | None, Header(max_length=200)] = None,
    content_type: Annotated[str | None, Header(max_length=100)] = None,
    tus_resumable: Annotated[str | None, Header()] = None,
) -> Response:
    _require_tus(tus_resumable)
    if content_type != OFFSET_CONTENT_TYPE:
        raise UnsupportedMediaType(f"Content-Type must be {OFFSET_CONTENT_TYPE}")
    if upload_offset is None or not upload_offset.isdigit():
        raise BadRequest("Upload-Offset is required", "Upload-Offset wajib diisi.")
    offset = int(upload_offset)
    upload = await _load(state, upload_id)
    if offset != upload.offset:
        raise Conflict(
            f"Upload-Offset {offset} does not match the server's {upload.offset}",
            "Posisi unggahan tidak cocok; lanjutkan dari posisi server.",
            headers=tus_headers(**{"Upload-Offset": str(upload.offset)}),
        )
    remaining = upload.length - upload.offset
    body = await read_body(request, remaining, keep_partial=upload_checksum is None)
    if body.complete:
        _check_checksum(upload_checksum, body.buffer)
    if upload.offset == 0 and body.buffer:
        sniff_content_type(body.buffer)  # refuse a non-image before storing any of it
    if body.buffer:
        upload = await _append_chunk(state, upload, body.buffer)
    headers = tus_headers(**{"Upload-Offset": str(upload.offset)})
    if upload.offset == upload.length and upload.submission_id is None:
        receipt = await finish(state, upload)
        headers["Sirekap-Submission-Id"] = receipt.submission_id
        headers["Sirekap-Receipt-Url"] = str(request.url_for("tus_receipt", upload_id=upload.id))
    return Response(status_code=204, headers=headers)


async def _append_chunk(
    state: IngestState, upload: UploadSession, data: bytearray
) -> UploadSession:
    key = f"{upload_chunk_key(upload.id, upload.offset)}-{uuid.uuid4().hex[:8]}"
    await state.store.put(key, data, "application/octet-stream")
    new_offset = upload.offset + len(data)
    async with state.db.transaction() as session:
        result = await session.execute(
            update(UploadSession)
            .where(UploadSession.id == upload.id, UploadSession.offset == upload.offset)
            .values(offset=new_offset, chunk_keys=[*upload.chunk_keys, key])
        )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await state.store.delete(key)  # another replica stored this range first
        current = await _load(state, upload.id)
        raise Conflict(
            "another request advanced this upload first",
            "Unggahan sudah dilanjutkan dari perangkat lain; lanjutkan dari posisi server.",
            headers=tus_headers(**{"Upload-Offset": str(current.offset)}),
        )
    upload.offset = new_offset
    upload.chunk_keys = [*upload.chunk_keys, key]
    return upload


async def _discard(state: IngestState, upload: UploadSession) -> None:
    for key in upload.chunk_keys:
        await state.store.delete(key)
    async with state.db.transaction() as session:
        stored = await session.get(UploadSession, upload.id)
        if stored is not None:
            await session.delete(stored)


async def finish(state: IngestState, upload: UploadSession) -> Receipt:
    """Assemble the chunks, check them as one photo and hand it off; refuse and discard if bad."""
    buffer = bytearray()
    for key in upload.chunk_keys:
        buffer += await state.store.get(key)
    try:
        if len(buffer) != upload.length:
            raise Unprocessable("the stored chunks do not add up to Upload-Length")
        actual = await asyncio.to_thread(lambda: hashlib.sha256(buffer).hexdigest())
        if actual != upload.sha256:
            raise Unprocessable(
                f"the upload's SHA-256 is {actual}, not the declared {upload.sha256}",
                "Isi foto tidak sama dengan yang ditandatangani; kirim ulang.",
            )
        info = await check_photo(buffer, state.settings)
    except SirekapError:
        await _discard(state, upload)
        raise
    async with state.db.reading() as session:
        device = await session.get(Device, upload.device_id)
        tps = await session.get(Tps, upload.tps_code)
    if device is None or tps is None:
        raise NotFound("the upload's device or TPS no longer exists")
    claim = UploadClaim(
        device_id=upload.device_id,
        tps=upload.tps_code,
        contest=upload.contest,
        page=upload.page,
        sha256=upload.sha256,
        captured_at=upload.captured_at_raw,
    )
    verified = VerifiedClaim(claim, upload.signature, upload.captured_at, device)
    receipt = await existing_receipt(state.db, verified) or await hand_off(
        state.db, state.store, verified, info, buffer
    )
    async with state.db.transaction() as session:
        await session.execute(
            update(UploadSession)
            .where(UploadSession.id == upload.id)
            .values(submission_id=receipt.submission_id)
        )
    upload.submission_id = receipt.submission_id
    for key in upload.chunk_keys:
        await state.store.delete(key)
    return receipt


@router.get("/{upload_id}/receipt", summary="The receipt of a finished resumable upload")
async def tus_receipt(upload_id: str, state: StateDep) -> JSONResponse:
    upload = await _load(state, upload_id)
    if upload.offset < upload.length:
        raise Conflict(
            f"the upload is at {upload.offset} of {upload.length} bytes",
            "Unggahan belum selesai; lanjutkan unggah.",
        )
    if upload.submission_id is None:  # the last PATCH was cut off after its bytes arrived
        receipt = await finish(state, upload)
        return JSONResponse(receipt.to_json())
    async with state.db.reading() as session:
        submission = await session.get(Submission, upload.submission_id)
    if submission is None:
        raise NotFound("the upload's submission is missing")
    return JSONResponse(receipt_of(submission, duplicate=False).to_json())


@router.delete("/{upload_id}", status_code=204, summary="Abandon an upload (tus termination)")
async def tus_terminate(
    upload_id: str, state: StateDep, tus_resumable: Annotated[str | None, Header()] = None
) -> Response:
    _require_tus(tus_resumable)
    upload = await _load(state, upload_id)
    if upload.submission_id is None:
        await _discard(state, upload)
    return Response(status_code=204, headers=tus_headers())
