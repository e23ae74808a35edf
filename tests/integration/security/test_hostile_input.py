"""A corpus of hostile input against both services: every item answers 4xx JSON with a useful
detail and leaves nothing behind (rows in submissions, upload_sessions, ocr_jobs, audit_events;
objects under photos/ and uploads/).

Each test walks a list of cases and collects every failure, so one run shows them all.
"""

from __future__ import annotations

import base64
import hashlib
import io
import struct
import zipfile
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import quote

import cv2
import httpx
import numpy as np
from sqlalchemy import func, select

from shared.auth import Official, Role, issue_token
from shared.db.engine import Database
from shared.db.tables import Acceptance, AuditEvent
from tests.integration.ingest.conftest import TPS, Ingest
from tests.integration.security.conftest import (
    TUS,
    assert_refusal,
    footprint,
    post_single,
    signed_claim,
    single_upload_request,
    tus_create,
    tus_metadata,
)
from tests.integration.tally.conftest import add_official, login
from tests.integration.tally.seed import ppwp_votes, read, submit
from tests.support.photos import make_jpeg

Send = Callable[[], Awaitable[httpx.Response]]
Case = tuple[str, Send, set[int]]

# Path and query payloads: traversal (plain and encoded), SQL, NUL, markup, non-ASCII, length.
INJECTIONS = [
    "../../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "1708011007001' OR '1'='1",
    "1; DROP TABLE submissions;--",
    "abc\x00def",
    "<script>alert(1)</script>",
    "\u202e\U0001f5f3",
    "9" * 5000,
]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb() -> bytes:
    """20 KB that declares 100,000 × 100,000 px (10 GB once decoded)."""
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    squeezer = zlib.compressobj(9)
    data = squeezer.compress(b"\0" * (100_001 * 200)) + squeezer.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )


def jpeg_of(width: int, height: int, quality: int = 50) -> bytes:
    ok, encoded = cv2.imencode(
        ".jpg", np.full((height, width), 200, np.uint8), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    assert ok
    return bytes(encoded.tobytes())


def zip_named_jpg() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("C1.jpg", make_jpeg(1))
    return out.getvalue()


def hostile_photos() -> dict[str, tuple[bytes, set[int]]]:
    good = make_jpeg(21)
    sof = good.find(b"\xff\xc0")
    zero_size = good[: sof + 5] + b"\0\0\0\0" + good[sof + 9 :]
    return {
        "truncated-jpeg": (good[: len(good) // 2], {422}),
        "jpeg-missing-its-end": (good[:-10], {422}),
        "jpeg-header-only": (good[:600], {422}),
        "jpeg-with-zero-size": (zero_size, {422}),
        "png-decompression-bomb": (png_bomb(), {422}),
        "100-megapixel-jpeg": (jpeg_of(10_000, 10_000), {422}),
        "too-small-to-read": (jpeg_of(320, 240), {422}),
        "html-named-jpg": (b"<!doctype html><html><body>C1</body></html>", {415}),
        "zip-named-jpg": (zip_named_jpg(), {415}),
        "empty-body": (b"", {400, 422}),
        "nul-bytes": (b"\0" * 4096, {415}),
    }


async def run_cases(ingest: Ingest, cases: list[Case]) -> None:
    """Each case must refuse with 4xx JSON and change nothing; all failures are reported."""
    failures: list[str] = []
    for name, send, statuses in cases:
        before = await footprint(ingest)
        response = await send()
        try:
            if response.request.method != "HEAD":
                assert_refusal(response, statuses)
            else:
                assert response.status_code in statuses, response.status_code
        except (AssertionError, ValueError) as exc:
            failures.append(f"{name}: {response.status_code} {response.text[:200]!r} ({exc})")
            continue
        after = await footprint(ingest)
        if after != before:
            failures.append(f"{name}: left something behind: {before} → {after}")
    assert not failures, "\n".join(failures)


async def test_hostile_photos_in_a_single_upload(ingest: Ingest) -> None:
    profile = await ingest.device()
    cases: list[Case] = []
    for name, (body, statuses) in hostile_photos().items():

        def send(body: bytes = body) -> Awaitable[httpx.Response]:
            return post_single(ingest.http, profile, body)

        cases.append((name, send, statuses))
    # Damage in transit: bits flipped after signing. JPEG decoders tolerate flipped bits in
    # the entropy-coded data (the photo decodes, garbled), so the signed SHA-256 catches it.
    good = make_jpeg(22)
    flipped = bytearray(good)
    for i in range(1000, len(flipped) - 10, 97):
        flipped[i] ^= 0x55
    params, headers = single_upload_request(profile, good)
    cases.append(
        (
            "bits-flipped-after-signing",
            lambda: ingest.http.post(
                "/v1/uploads", params=params, headers=headers, content=bytes(flipped)
            ),
            {422},
        )
    )
    await run_cases(ingest, cases)


async def test_hostile_photos_through_tus(ingest: Ingest) -> None:
    """Refused at the first chunk (not an image) or at the end (the whole photo is checked);
    a refused upload's session and chunks are discarded."""
    profile = await ingest.device()
    failures: list[str] = []
    for name, (body, statuses) in hostile_photos().items():
        if not body:
            continue  # an empty upload cannot be created: covered by the header cases
        before = await footprint(ingest)
        created = await tus_create(ingest.http, profile, body)
        if created.status_code != 201:
            failures.append(f"{name}: creation answered {created.status_code}")
            continue
        response = await ingest.http.patch(
            created.headers["Location"],
            content=body,
            headers={
                **TUS,
                "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream",
            },
        )
        try:
            assert_refusal(response, statuses)
        except AssertionError as exc:
            failures.append(f"{name}: {exc}")
            continue
        if response.status_code == 415:  # refused before storing: the session may be ended
            await ingest.http.delete(created.headers["Location"], headers=TUS)
        if (after := await footprint(ingest)) != before:
            failures.append(f"{name}: left something behind: {before} → {after}")
    assert not failures, "\n".join(failures)


async def test_hostile_tus_headers(ingest: Ingest) -> None:
    profile = await ingest.device()
    photo = make_jpeg(23)
    claim, signature = signed_claim(profile, photo)
    meta = tus_metadata(claim, signature)

    def create(**headers: str) -> Send:
        sent = {**TUS, "Upload-Length": str(len(photo)), "Upload-Metadata": meta, **headers}
        sent = {k: v for k, v in sent.items() if v != "<omit>"}
        return lambda: ingest.http.post("/v1/tus", headers=sent)

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    cases: list[Case] = [
        ("no-tus-resumable", create(**{"Tus-Resumable": "<omit>"}), {412}),
        ("old-tus-version", create(**{"Tus-Resumable": "0.2.2"}), {412}),
        ("no-upload-length", create(**{"Upload-Length": "<omit>"}), {400}),
        ("negative-length", create(**{"Upload-Length": "-5"}), {400}),
        ("non-numeric-length", create(**{"Upload-Length": "12abc"}), {400}),
        ("zero-length", create(**{"Upload-Length": "0"}), {400}),
        ("huge-length", create(**{"Upload-Length": "9" * 20}), {413}),
        ("length-too-long-a-header", create(**{"Upload-Length": "9" * 40}), {422}),
        ("metadata-key-only-garbage", create(**{"Upload-Metadata": "a b c"}), {400}),
        ("metadata-not-base64", create(**{"Upload-Metadata": "device !!!"}), {400}),
        (
            "metadata-invalid-utf8",
            create(**{"Upload-Metadata": meta + ",label " + b64(b"\xff\xfe\xfd")}),
            {400},
        ),
        ("metadata-empty", create(**{"Upload-Metadata": ""}), {401}),
        ("metadata-oversized", create(**{"Upload-Metadata": "x " + "A" * 10_000}), {422}),
        (
            "metadata-without-signature",
            create(**{"Upload-Metadata": meta.rsplit(",", 1)[0]}),
            {401},
        ),
        (
            "metadata-sql-in-tps",
            create(**{"Upload-Metadata": meta.replace(b64(TPS.encode()), b64(b"1' OR 1=1--"))}),
            {422},
        ),
    ]
    await run_cases(ingest, cases)


async def test_hostile_tus_patches(ingest: Ingest) -> None:
    profile = await ingest.device()
    photo = make_jpeg(24)
    created = await tus_create(ingest.http, profile, photo)
    assert created.status_code == 201, created.text
    url = created.headers["Location"]
    first = photo[:10_000]

    def patch(body: bytes = first, headers: dict[str, str] | None = None) -> Send:
        sent = {
            **TUS,
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
            **(headers or {}),
        }
        return lambda: ingest.http.patch(url, content=body, headers=sent)

    sha1 = base64.b64encode(hashlib.sha1(b"something else").digest()).decode()
    cases: list[Case] = [
        ("wrong-offset", patch(headers={"Upload-Offset": "5000"}), {409}),
        ("non-numeric-offset", patch(headers={"Upload-Offset": "zero"}), {400}),
        ("negative-offset", patch(headers={"Upload-Offset": "-1"}), {400}),
        ("bad-checksum", patch(headers={"Upload-Checksum": f"sha1 {sha1}"}), {460}),
        ("unknown-checksum-algorithm", patch(headers={"Upload-Checksum": f"crc32 {sha1}"}), {400}),
        ("malformed-checksum", patch(headers={"Upload-Checksum": "sha1"}), {400}),
        ("checksum-not-base64", patch(headers={"Upload-Checksum": "sha1 ***"}), {400}),
        ("wrong-content-type", patch(headers={"Content-Type": "image/jpeg"}), {415}),
        ("html-first-chunk", patch(b"<html>" + b"x" * 100), {415}),
        ("more-than-upload-length", patch(photo + b"x" * 10), {413}),
    ]
    await run_cases(ingest, cases)
    # The upload itself is intact and still completes.
    done = await patch(photo)()
    assert done.status_code == 204 and "Sirekap-Submission-Id" in done.headers, done.text


async def test_hostile_json_and_headers(ingest: Ingest) -> None:
    profile = await ingest.device()
    photo = make_jpeg(25)
    official = issue_token(ingest.settings.auth_secret, Official("pps", Role.PPS, "17.08.01.1007"))

    def devices(content: bytes) -> Send:
        headers = {"Content-Type": "application/json"}
        return lambda: ingest.http.post("/v1/devices", content=content, headers=headers)

    def chunked_devices() -> Send:
        async def endless() -> AsyncIterator[bytes]:  # no Content-Length: sent chunked
            yield enrol + b',"label":"'
            for _ in range(1000):  # 64 MB if nobody stops it
                yield b"x" * 65536

        headers = {"Content-Type": "application/json"}
        return lambda: ingest.http.post("/v1/devices", content=endless(), headers=headers)

    def codes(content: bytes, token: str = official) -> Send:
        headers = [
            (b"Content-Type", b"application/json"),
            (b"Authorization", b"Bearer " + token.encode("latin-1")),
        ]
        return lambda: ingest.http.post("/v1/enrolment-codes", content=content, headers=headers)

    def upload(**headers: str) -> Send:
        async def send() -> httpx.Response:
            params, signed = single_upload_request(profile, photo)
            return await ingest.http.post(
                "/v1/uploads", params=params, headers={**signed, **headers}, content=photo
            )

        return send

    enrol = b'{"tps":"1708011007001","code":"AAAAAAAA","public_key":"AA==","proof":"AA=="'
    cases: list[Case] = [
        ("truncated-json", devices(enrol), {422}),
        ("json-array", devices(b"[1,2,3]"), {422}),
        (
            "json-invalid-utf8",
            devices(enrol.replace(b"AAAAAAAA", b"AA\xff\xfeAAAA") + b"}"),
            {400, 422},
        ),
        ("json-oversized-label", devices(enrol + b',"label":"' + b"x" * 1_000_000 + b'"}'), {413}),
        ("json-label-over-its-field", devices(enrol + b',"label":"' + b"x" * 1_000 + b'"}'), {422}),
        ("json-deeply-nested", devices(b"[" * 30_000 + b"]" * 30_000), {400, 422}),
        ("json-huge-number", devices(b'{"tps":' + b"9" * 30_000 + b"}"), {400, 422}),
        ("json-chunked-and-endless", chunked_devices(), {413}),
        ("json-nan", devices(b'{"tps":NaN}'), {422}),
        ("code-for-a-sql-tps", codes(b'{"tps":"1\' OR 1=1--"}'), {422}),
        ("code-with-a-forged-token", codes(b'{"tps":"1708011007001"}', official + "x"), {401}),
        (
            "code-with-a-garbage-token",
            codes(b'{"tps":"1708011007001"}', "\u00ff" * 3000),
            {401, 422},
        ),
        ("signature-not-base64", upload(**{"Sirekap-Signature": "!!!"}), {401}),
        ("signature-too-long", upload(**{"Sirekap-Signature": "A" * 5000}), {422}),
        ("device-too-long", upload(**{"Sirekap-Device": "d" * 5000}), {422}),
        ("device-sql", upload(**{"Sirekap-Device": "x' OR '1'='1"}), {401}),
        ("device-nul", upload(**{"Sirekap-Device": "abc\x00"}), {401, 422}),
    ]
    await run_cases(ingest, cases)


async def test_injection_in_every_path_and_query_parameter(ingest: Ingest) -> None:
    profile = await ingest.device()
    photo = make_jpeg(26)
    sha = hashlib.sha256(photo).hexdigest()
    official = issue_token(ingest.settings.auth_secret, Official("kpu", Role.KPU, "00"))
    cases: list[Case] = []
    for payload in INJECTIONS:
        p = quote(payload, safe="")
        upload_query = {
            "tps": TPS,
            "contest": "PPWP",
            "page": "1",
            "sha256": sha,
            "captured_at": "2024-02-14T13:00:00Z",
        }
        revoke = {"Authorization": f"Bearer {official}"}
        cases += [
            (f"submission {payload!r}", _get(ingest, f"/v1/submissions/{p}"), {404, 422}),
            (f"tus head {payload!r}", _req(ingest, "HEAD", f"/v1/tus/{p}", TUS), {404, 422}),
            (f"tus delete {payload!r}", _req(ingest, "DELETE", f"/v1/tus/{p}", TUS), {404, 422}),
            (f"tus receipt {payload!r}", _get(ingest, f"/v1/tus/{p}/receipt"), {404, 422}),
            (
                f"tus patch {payload!r}",
                _req(
                    ingest,
                    "PATCH",
                    f"/v1/tus/{p}",
                    {
                        **TUS,
                        "Upload-Offset": "0",
                        "Content-Type": "application/offset+octet-stream",
                    },
                    photo[:100],
                ),
                {404, 422},
            ),
            (
                f"revoke {payload!r}",
                _req(ingest, "POST", f"/v1/devices/{p}/revoke", revoke, b'{"reason":"lost"}'),
                {404, 422},
            ),
        ]
        for key in ("tps", "contest", "page", "sha256"):
            query = {"tps": TPS, "contest": "PPWP", "page": "1", "sha256": sha, key: payload}
            cases.append(
                (
                    f"lookup {key}={payload!r}",
                    _get(ingest, "/v1/submissions/lookup", query),
                    {404, 422},
                )
            )
        for key in upload_query:
            query = {**upload_query, key: payload}
            headers = {"Sirekap-Device": profile.device_id, "Sirekap-Signature": "AA=="}
            cases.append(
                (
                    f"upload {key}={payload!r}",
                    _req(ingest, "POST", "/v1/uploads", headers, photo, query),
                    {401, 422},
                )
            )
    await run_cases(ingest, cases)


def _get(ingest: Ingest, path: str, params: dict[str, str] | None = None) -> Send:
    return _req(ingest, "GET", path, {}, None, params)


def _req(
    ingest: Ingest,
    method: str,
    path: str,
    headers: dict[str, str],
    content: bytes | None = None,
    params: dict[str, str] | None = None,
) -> Send:
    return lambda: ingest.http.request(
        method, path, headers=headers, content=content, params=params
    )


# --- tally: a correction is an official's input like any other --------------------------------

REVIEW_TPS = "1708042001001"
DESA = "17.08.04.2001"
FAILING = [{"field": "100025", "rule": "R3", "reason_en": "sum", "reason_id": "jumlah"}]


async def _tally_footprint(db: Database) -> tuple[int, int]:
    async with db.reading() as session:
        acceptances = await session.scalar(select(func.count()).select_from(Acceptance)) or 0
        events = await session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    return acceptances, events


async def test_hostile_corrections(tally_db: Database, tally_client: httpx.AsyncClient) -> None:
    sid, _ = await submit(tally_db, REVIEW_TPS, "PPWP", 2)
    await read(tally_db, sid, {**ppwp_votes(62, 20, 10), "100025": 562}, failing=FAILING)
    await add_official(tally_db, "pps-h", Role.PPS, DESA)
    auth = {**await login(tally_client, "pps-h"), "If-Match": '"r0"'}
    url = f"/api/v1/pages/{REVIEW_TPS}/PPWP/2/review"

    def review(values: Any, reason: Any = "checked", path: str = url, **extra: Any) -> Send:
        body = {"submission_id": sid, "values": values, "reason": reason, **extra}
        return lambda: tally_client.post(path, headers=auth, json=body)

    def raw(content: bytes) -> Send:
        headers = {**auth, "Content-Type": "application/json"}
        return lambda: tally_client.post(url, headers=headers, content=content)

    cases: list[tuple[str, Send, set[int]]] = [
        ("negative-count", review({"100025": -62}), {422}),
        ("huge-count", review({"100025": 10**30}), {422}),
        ("above-int64", review({"100025": 2**63}), {422}),
        ("above-int32", review({"100025": 2**31}), {422}),
        ("above-the-forms-three-boxes", review({"100025": 1000}), {422}),
        ("non-numeric-count", review({"100025": "enam puluh dua"}), {422}),
        ("float-count", review({"100025": 62.5}), {422}),
        ("null-count", review({"100025": None}), {422}),
        ("json-true-as-a-count", review({"100025": True}), {422}),
        ("string-digits-as-a-count", review({"100025": "62"}), {422}),
        ("unknown-field", review({"'; DROP TABLE acceptances;--": 1}), {422}),
        ("values-not-an-object", review([62]), {422}),
        (
            "megabyte-reason",
            review({"100025": 62}, "x" * 1_000_000),
            {413},
        ),  # refused by the body limit before parsing
        ("negative-revision", review({"100025": 62}, expected_revision=-1), {422}),
        ("invalid-utf8", raw(b'{"submission_id":"\xff\xfe","values":{}}'), {400, 422}),
        ("truncated-json", raw(b'{"submission_id":'), {422}),
        ("sql-submission", review({}, submission_id="x' OR '1'='1"), {404, 422}),
        ("nul-submission", review({}, submission_id="a\x00b"), {404, 422}),
    ]
    for payload in INJECTIONS:
        p = quote(payload, safe="")
        for path in (
            f"/api/v1/pages/{p}/PPWP/2/review",
            f"/api/v1/pages/{REVIEW_TPS}/{p}/2/review",
            f"/api/v1/pages/{REVIEW_TPS}/PPWP/{p}/review",
        ):
            cases.append((f"path {path[:80]}", review({}, path=path), {404, 422}))
    # Last: free text with a NUL may be refused or stored as sent (then the page moves on).
    cases.append(("reason-with-nul", review({"100025": 62}, "ok\x00"), {200, 422}))
    failures: list[str] = []
    for name, send, statuses in cases:
        before = await _tally_footprint(tally_db)
        response = await send()
        if response.status_code == 200 and 200 in statuses:
            continue  # a NUL in free text may be stored as it is; then the case is not hostile
        try:
            assert_refusal(response, statuses)
        except (AssertionError, ValueError) as exc:
            failures.append(f"{name}: {response.status_code} {response.text[:200]!r} ({exc})")
            continue
        if (after := await _tally_footprint(tally_db)) != before:
            failures.append(f"{name}: left something behind: {before} → {after}")
    assert not failures, "\n".join(failures)
