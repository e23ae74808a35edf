"""Resumable uploads (tus 1.0): resume after drops, across replicas, with a real tus client."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import random
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from clients.kpps.client import Backoff, KppsClient, enroll, now_rfc3339
from services.ingest.app import create_app
from shared.db.tables import Submission, UploadSession
from shared.settings import Settings
from shared.signing import UploadClaim, sign
from tests.integration.ingest.conftest import TPS, Ingest
from tests.support.live import LiveIngest, serve_ingest
from tests.support.photos import make_jpeg, sha256

TUS = {"Tus-Resumable": "1.0.0"}


class FlakyTransport(httpx.AsyncBaseTransport):
    """Loses some requests before the server sees them and some responses after it acted."""

    def __init__(self, inner: httpx.AsyncBaseTransport, seed: int) -> None:
        self.inner = inner
        self.rng = random.Random(seed)
        self.dropped = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        roll = self.rng.random()
        if roll < 0.2:
            self.dropped += 1
            raise httpx.ConnectError("link dropped before the server")
        response = await self.inner.handle_async_request(request)
        if roll > 0.75:
            await response.aread()
            self.dropped += 1
            raise httpx.ReadError("link dropped after the server acted")
        return response


async def _no_sleep(_: float) -> None:
    return None


async def submissions(ingest: Ingest) -> int:
    async with ingest.db.reading() as session:
        return await session.scalar(select(func.count()).select_from(Submission)) or 0


async def test_resumable_upload_survives_a_flaky_link(ingest: Ingest) -> None:
    profile = await ingest.device()
    flaky = FlakyTransport(ingest.http._transport, seed=7)
    async with httpx.AsyncClient(transport=flaky, base_url="http://ingest") as http:
        client = KppsClient(
            profile, http, chunk_size=16 * 1024, backoff=Backoff(attempts=12, sleep=_no_sleep)
        )
        photo = make_jpeg(21)
        receipt = await client.upload(photo, contest="PPWP", page=1)
        again = await client.upload(photo, contest="PPWP", page=1)
    assert flaky.dropped > 3
    assert receipt["sha256"] == sha256(photo)
    assert again["submission_id"] == receipt["submission_id"]
    assert await submissions(ingest) == 1
    assert await ingest.state.store.list("uploads/") == []  # chunks are cleaned up


async def test_upload_resumes_on_another_replica(ingest: Ingest) -> None:
    """Create on replica A, send half through A, the rest through replica B."""
    profile = await ingest.device()
    photo = make_jpeg(22)
    claim = UploadClaim(profile.device_id, TPS, "PPWP", 1, sha256(photo), now_rfc3339())
    signature = sign(profile.key(), claim.signed_bytes())
    client = KppsClient(profile, ingest.http)
    created = await ingest.http.post(
        "/v1/tus",
        headers={
            **TUS,
            "Upload-Length": str(len(photo)),
            "Upload-Metadata": client._metadata(claim, signature),
        },
    )
    assert created.status_code == 201, created.text
    url = created.headers["Location"]
    half = len(photo) // 2
    first = await ingest.http.patch(
        url,
        content=photo[:half],
        headers={**TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
    )
    assert first.status_code == 204 and first.headers["Upload-Offset"] == str(half)

    replica_b = create_app(ingest.settings)
    async with replica_b.router.lifespan_context(replica_b):
        transport = httpx.ASGITransport(app=replica_b)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest-b") as http_b:
            head = await http_b.head(url, headers=TUS)
            assert head.headers["Upload-Offset"] == str(half)
            wrong = await http_b.patch(
                url,
                content=photo[half:],
                headers={
                    **TUS,
                    "Upload-Offset": "0",
                    "Content-Type": "application/offset+octet-stream",
                },
            )
            assert wrong.status_code == 409
            assert wrong.headers["Upload-Offset"] == str(half)
            rest = await http_b.patch(
                url,
                content=photo[half:],
                headers={
                    **TUS,
                    "Upload-Offset": str(half),
                    "Content-Type": "application/offset+octet-stream",
                },
            )
            assert rest.status_code == 204, rest.text
            receipt = (await http_b.get(f"{url}/receipt")).json()
    assert receipt["sha256"] == sha256(photo)
    assert await submissions(ingest) == 1


async def test_bad_chunk_checksum_is_refused_and_offset_kept(ingest: Ingest) -> None:
    profile = await ingest.device()
    photo = make_jpeg(23)
    claim = UploadClaim(profile.device_id, TPS, "PPWP", 1, sha256(photo), now_rfc3339())
    client = KppsClient(profile, ingest.http)
    created = await ingest.http.post(
        "/v1/tus",
        headers={
            **TUS,
            "Upload-Length": str(len(photo)),
            "Upload-Metadata": client._metadata(claim, sign(profile.key(), claim.signed_bytes())),
        },
    )
    url = created.headers["Location"]
    bad = base64.b64encode(hashlib.sha1(b"something else").digest()).decode()
    response = await ingest.http.patch(
        url,
        content=photo[:1000],
        headers={
            **TUS,
            "Upload-Offset": "0",
            "Upload-Checksum": f"sha1 {bad}",
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert response.status_code == 460
    assert (await ingest.http.head(url, headers=TUS)).headers["Upload-Offset"] == "0"


async def test_tus_creation_checks_the_signature_first(ingest: Ingest) -> None:
    profile = await ingest.device()
    photo = make_jpeg(24)
    claim = UploadClaim(profile.device_id, TPS, "PPWP", 1, sha256(photo), now_rfc3339())
    client = KppsClient(profile, ingest.http)
    response = await ingest.http.post(
        "/v1/tus",
        headers={
            **TUS,
            "Upload-Length": str(len(photo)),
            "Upload-Metadata": client._metadata(claim, base64.b64encode(b"x" * 64).decode()),
        },
    )
    assert response.status_code == 401
    async with ingest.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(UploadSession)) == 0
    missing_version = await ingest.http.post("/v1/tus", headers={"Upload-Length": "10"})
    assert missing_version.status_code == 412


async def test_a_non_image_is_refused_at_the_first_chunk(ingest: Ingest) -> None:
    profile = await ingest.device()
    body = b"PK\x03\x04" + bytes(20_000)
    claim = UploadClaim(profile.device_id, TPS, "PPWP", 1, sha256(body), now_rfc3339())
    client = KppsClient(profile, ingest.http)
    created = await ingest.http.post(
        "/v1/tus",
        headers={
            **TUS,
            "Upload-Length": str(len(body)),
            "Upload-Metadata": client._metadata(claim, sign(profile.key(), claim.signed_bytes())),
        },
    )
    response = await ingest.http.patch(
        created.headers["Location"],
        content=body,
        headers={**TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
    )
    assert response.status_code == 415
    assert await ingest.state.store.list("uploads/") == []


@pytest.fixture
def live_server(tmp_path: Path, sqlite_url: str) -> Iterator[LiveIngest]:
    settings = Settings(database_url=sqlite_url, data_dir=tmp_path, auth_secret="t" * 32)
    with serve_ingest(settings, scope="17.08.01") as live:
        yield live


def test_tuspy_a_real_tus_client_uploads(live_server: LiveIngest) -> None:
    from tusclient import client as tus

    profile = asyncio.run(enroll(live_server.url, TPS, live_server.issue_code(TPS)))
    photo = make_jpeg(25)
    claim = UploadClaim(profile.device_id, TPS, "PPWP", 1, sha256(photo), now_rfc3339())
    metadata = {
        "device": claim.device_id,
        "tps": TPS,
        "contest": "PPWP",
        "page": "1",
        "sha256": claim.sha256,
        "captured_at": claim.captured_at,
        "signature": sign(profile.key(), claim.signed_bytes()),
    }
    uploader = tus.TusClient(f"{live_server.url}/v1/tus").uploader(
        file_stream=io.BytesIO(photo), chunk_size=40_000, metadata=metadata, upload_checksum=True
    )
    uploader.upload()
    receipt = httpx.get(f"{uploader.url}/receipt").json()
    assert receipt["sha256"] == sha256(photo)
    assert receipt["tps"] == TPS


def test_bytes_of_a_cut_off_patch_are_kept(live_server: LiveIngest) -> None:
    """A phone loses signal halfway through a PATCH: what arrived counts, the rest resumes."""
    profile = asyncio.run(enroll(live_server.url, TPS, live_server.issue_code(TPS)))
    photo = make_jpeg(26)
    claim = UploadClaim(profile.device_id, TPS, "PPWP", 1, sha256(photo), now_rfc3339())
    meta = ",".join(
        f"{k} {base64.b64encode(v.encode()).decode()}"
        for k, v in {
            "device": claim.device_id,
            "tps": TPS,
            "contest": "PPWP",
            "page": "1",
            "sha256": claim.sha256,
            "captured_at": claim.captured_at,
            "signature": sign(profile.key(), claim.signed_bytes()),
        }.items()
    )
    created = httpx.post(
        f"{live_server.url}/v1/tus",
        headers={**TUS, "Upload-Length": str(len(photo)), "Upload-Metadata": meta},
    )
    path = httpx.URL(created.headers["Location"]).path
    sent = len(photo) // 3
    host, port = live_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as raw:
        head = (
            f"PATCH {path} HTTP/1.1\r\nHost: {host}\r\nTus-Resumable: 1.0.0\r\n"
            f"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
            f"Content-Length: {len(photo)}\r\n\r\n"
        ).encode()
        raw.sendall(head + photo[:sent])
        time.sleep(0.3)  # let the server read what was sent before the link drops
    url = created.headers["Location"]
    for _ in range(50):
        offset = int(httpx.head(url, headers=TUS).headers["Upload-Offset"])
        if offset:
            break
        time.sleep(0.1)
    assert offset == sent
    rest = httpx.patch(
        url,
        content=photo[offset:],
        headers={
            **TUS,
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert rest.status_code == 204, rest.text
    assert httpx.get(f"{url}/receipt").json()["sha256"] == sha256(photo)


async def test_the_photo_event_of_a_tus_upload_carries_a_verifiable_signature(
    ingest: Ingest,
) -> None:
    """The claim is stored exactly as signed: an auditor re-checks it from the log alone."""
    import json

    from shared.db.tables import AuditEvent
    from shared.signing import verify

    client = ingest.client(await ingest.device())
    await client.upload(make_jpeg(27), contest="PPWP", page=1)
    async with ingest.db.reading() as session:
        event = (
            await session.execute(select(AuditEvent).where(AuditEvent.kind == "photo"))
        ).scalar_one()
    body = json.loads(event.body)
    claim = UploadClaim(
        body["device"],
        body["tps"],
        body["contest"],
        body["page"],
        body["sha256"],
        body["captured_at"],
    )
    assert body["captured_at"].endswith("Z")  # as the client wrote it, not re-formatted
    assert verify(bytes.fromhex(body["device_key"]), claim.signed_bytes(), body["signature"])
