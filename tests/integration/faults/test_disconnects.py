"""A client that disconnects at every point of an upload, then retries: one photo, one row."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from clients.kpps.client import KppsClient, enroll, now_rfc3339
from shared.db.engine import database_from_settings
from shared.signing import UploadClaim, sign
from tests.conftest import clean_database
from tests.integration.ingest.conftest import BACKENDS, TPS, settings_for
from tests.support.live import LiveIngest, run_sync, serve_ingest
from tests.support.nothing_lost import assert_nothing_lost_in
from tests.support.photos import form_photo, sha256


@pytest.fixture(params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveIngest]:
    """The ingest service on a real socket, on the embedded backend and on PostgreSQL + S3."""
    settings = settings_for(request.param, tmp_path, request)
    if not settings.is_sqlite:

        async def clean() -> None:
            db = database_from_settings(settings)
            try:
                await clean_database(db)
            finally:
                await db.dispose()

        run_sync(clean)
    with serve_ingest(settings, scope="17.08.01") as server:
        yield server


def send_and_cut(url: str, request: bytes, cut: int) -> None:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as raw:
        raw.sendall(request[:cut])
        time.sleep(0.05)


def submissions(live: LiveIngest) -> int:
    async def count() -> int:
        from sqlalchemy import func, select

        from shared.db.engine import database_from_settings
        from shared.db.tables import Submission

        db = database_from_settings(live.settings)
        try:
            async with db.reading() as session:
                return await session.scalar(select(func.count()).select_from(Submission)) or 0
        finally:
            await db.dispose()

    return int(run_sync(count))  # type: ignore[call-overload,no-any-return]


def test_single_request_cut_anywhere_then_retried(live: LiveIngest) -> None:
    profile = asyncio.run(enroll(live.url, TPS, live.issue_code(TPS)))
    photo = form_photo(TPS, 1)
    claim = UploadClaim(profile.device_id, TPS, "PPWP", 1, sha256(photo), now_rfc3339())
    signature = sign(profile.key(), claim.signed_bytes())
    target = (
        f"/v1/uploads?tps={TPS}&contest=PPWP&page=1&sha256={claim.sha256}"
        f"&captured_at={claim.captured_at}"
    )
    head = (
        f"POST {target} HTTP/1.1\r\nHost: x\r\nSirekap-Device: {profile.device_id}\r\n"
        f"Sirekap-Signature: {signature}\r\nContent-Length: {len(photo)}\r\n\r\n"
    ).encode()
    request = head + photo
    for cut in (
        0,
        10,
        len(head) - 2,
        len(head),
        len(head) + 1,
        len(head) + len(photo) // 2,
        len(request) - 1,
    ):
        send_and_cut(live.url, request, cut)
    time.sleep(0.3)
    assert submissions(live) == 0  # nothing incomplete was kept
    send_and_cut(live.url, request, len(request))  # complete, but the answer is never read
    time.sleep(0.5)

    async def retry() -> dict[str, object]:
        async with httpx.AsyncClient(base_url=live.url) as http:
            client = KppsClient(profile, http)
            return await client.upload_single(
                photo, contest="PPWP", page=1, captured_at=claim.captured_at
            )

    receipt = asyncio.run(retry())
    assert receipt["duplicate"] is True  # the cut-off complete request had been stored
    assert submissions(live) == 1
    asyncio.run(assert_nothing_lost_in(live.settings, [receipt]))


async def _offset_after_cut(http: httpx.AsyncClient, url: str, before: int) -> int:
    """The upload's offset once the server has stored what arrived before the cut. The server
    learns of the cut only when its read fails, later on a loaded machine: poll (up to 10 s)
    instead of guessing a delay."""
    new = before
    for _ in range(100):
        await asyncio.sleep(0.1)
        head = await http.head(url, headers={"Tus-Resumable": "1.0.0"})
        new = int(head.headers["Upload-Offset"])
        if new != before:
            break
    return new


def test_resumable_upload_cut_at_every_chunk_then_resumed(live: LiveIngest) -> None:
    profile = asyncio.run(enroll(live.url, TPS, live.issue_code(TPS)))
    photo = form_photo(TPS, 2)
    chunk_size = 150_000

    async def upload_with_cuts() -> dict[str, object]:
        async with httpx.AsyncClient(base_url=live.url) as http:
            client = KppsClient(profile, http, chunk_size=chunk_size)
            claim = client.claim(sha256(photo), "PPWP", 1, now_rfc3339())
            signature = sign(profile.key(), claim.signed_bytes())
            created = await http.post(
                "/v1/tus",
                headers={
                    "Tus-Resumable": "1.0.0",
                    "Upload-Length": str(len(photo)),
                    "Upload-Metadata": client._metadata(claim, signature),
                },
            )
            url = created.headers["Location"]
            path = httpx.URL(url).path
            offset = 0
            while offset < len(photo):
                chunk = photo[offset : offset + chunk_size]
                head = (
                    f"PATCH {path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n"
                    f"Upload-Offset: {offset}\r\n"
                    f"Content-Type: application/offset+octet-stream\r\n"
                    f"Content-Length: {len(chunk)}\r\n\r\n"
                ).encode()
                send_and_cut(live.url, head + chunk, len(head) + len(chunk) // 2)
                new = await _offset_after_cut(http, url, offset)
                assert offset < new <= offset + len(chunk)  # the part that arrived was kept
                rest = photo[new : offset + len(chunk)]
                done = await http.patch(
                    url,
                    content=rest,
                    headers={
                        "Tus-Resumable": "1.0.0",
                        "Upload-Offset": str(new),
                        "Content-Type": "application/offset+octet-stream",
                    },
                )
                assert done.status_code == 204, done.text
                offset = int(done.headers["Upload-Offset"])
            receipt: dict[str, object] = (await http.get(f"{url}/receipt")).json()
            return receipt

    receipt = asyncio.run(upload_with_cuts())
    assert receipt["sha256"] == sha256(photo)
    assert submissions(live) == 1
    asyncio.run(assert_nothing_lost_in(live.settings, [receipt]))
