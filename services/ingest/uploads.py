"""The single-request upload: `POST /v1/uploads` with the photo as the body.

The claim travels in the query string and the signature in a header, so the signature is
checked before the body is read: a forged request is refused without storing a byte. A retry
of an upload already received is answered with the original receipt without reading the body.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse

from services.ingest.body import declared_length, read_body, too_large
from services.ingest.claims import parse_claim
from services.ingest.intake import hand_off, verify_upload
from services.ingest.photo_check import check_photo, sniff_content_type
from services.ingest.state import StateDep
from shared.errors import BadRequest, Unprocessable
from shared.metrics import UPLOADS

router = APIRouter(prefix="/v1", tags=["uploads"])


@router.post("/uploads", status_code=201, summary="Upload one photo in a single request")
async def upload_photo(
    request: Request,
    state: StateDep,
    tps: Annotated[str, Query(max_length=13)],
    contest: Annotated[str, Query(max_length=16)],
    page: Annotated[int, Query(ge=1, le=99)],
    sha256: Annotated[str, Query(max_length=64)],
    captured_at: Annotated[str, Query(max_length=40)],
    sirekap_device: Annotated[str | None, Header(max_length=64)] = None,
    sirekap_signature: Annotated[str | None, Header(max_length=128)] = None,
) -> JSONResponse:
    settings = state.settings
    claim = parse_claim(
        device_id=sirekap_device,
        tps=tps,
        contest=contest,
        page=page,
        sha256=sha256,
        captured_at=captured_at,
    )
    verified, existing = await verify_upload(state.db, claim, sirekap_signature, settings)
    if existing is not None:  # a retry: answer without reading the body again
        UPLOADS.labels("duplicate").inc()
        return JSONResponse(existing.to_json(), status_code=200)
    length = declared_length(request)
    if length is not None and length > settings.max_upload_bytes:
        raise too_large(settings.max_upload_bytes)
    body = await read_body(request, settings.max_upload_bytes)
    if not body.buffer:
        raise BadRequest("the body is empty", "Foto kosong; kirim ulang.")
    if length is not None and length != len(body.buffer):
        raise BadRequest("the body is shorter than Content-Length", "Foto terpotong; kirim ulang.")
    sniff_content_type(body.buffer)
    if body.sha256 != claim.sha256:
        raise Unprocessable(
            f"the body's SHA-256 is {body.sha256}, not the declared {claim.sha256}",
            "Isi foto tidak sama dengan yang ditandatangani; kirim ulang.",
        )
    info = await check_photo(body.buffer, settings)
    receipt = await hand_off(state.db, state.store, verified, info, body.buffer)
    return JSONResponse(receipt.to_json(), status_code=200 if receipt.duplicate else 201)
