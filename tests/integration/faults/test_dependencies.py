"""A dependency fails under an upload: the client gets 503 + Retry-After (never 500), nothing
partial is kept, and the same upload succeeds once the dependency is back."""

from __future__ import annotations

import errno
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import func, select

from shared.db.tables import AuditEvent, OcrJob, Submission
from shared.storage import S3ObjectStore
from tests.conftest import PG_ADMIN_DSN
from tests.integration.ingest.conftest import Ingest
from tests.support.photos import make_jpeg


async def rows(ingest: Ingest) -> tuple[int, int, int]:
    async with ingest.db.reading() as session:
        return (
            await session.scalar(select(func.count()).select_from(Submission)) or 0,
            await session.scalar(select(func.count()).select_from(OcrJob)) or 0,
            await session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.kind == "photo")
            )
            or 0,
        )


async def test_object_store_unreachable_then_back(ingest: Ingest) -> None:
    client = ingest.client(await ingest.device())
    photo = make_jpeg(61)
    healthy = ingest.state.store
    # S3: a server that does not answer. Local folder: a disk with no space left.
    if isinstance(healthy, S3ObjectStore):
        dead: object = S3ObjectStore(
            endpoint="127.0.0.1:9", access_key="x", secret_key="x", bucket=healthy.bucket
        )
    else:
        dead = _FullDisk(healthy)
    ingest.state.store = dead  # type: ignore[assignment]
    params = await _raw_upload(ingest, client, photo)
    assert params.status_code == 503
    assert params.headers["Retry-After"]
    assert params.json()["error"] == "ServiceUnavailable"
    assert await rows(ingest) == (0, 0, 0)
    ingest.state.store = healthy
    receipt = await client.upload_single(photo, contest="PPWP", page=1)
    assert receipt["duplicate"] is False
    assert await rows(ingest) == (1, 1, 1)
    assert await healthy.get(f"photos/{receipt['sha256'][:2]}/{receipt['sha256']}") == photo


class _FullDisk:
    """The local store on a disk with no space left."""

    def __init__(self, inner: object) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def put(self, key: str, data: object, content_type: str) -> None:
        from shared.storage import StorageUnavailable

        raise StorageUnavailable(f"cannot write {key}: {OSError(errno.ENOSPC, 'No space left')}")


async def test_write_error_mid_file_leaves_no_temporary_debris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from shared.storage import LocalObjectStore, StorageUnavailable

    store = LocalObjectStore(tmp_path / "objects")

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(StorageUnavailable, match="No space left"):
        await store.put("photos/ab/abcd", b"x" * 1000, "image/jpeg")
    assert list((tmp_path / "objects" / ".tmp").iterdir()) == []
    assert await store.size("photos/ab/abcd") is None


async def _raw_upload(ingest: Ingest, client: object, photo: bytes) -> object:
    from clients.kpps.client import now_rfc3339
    from shared.signing import UploadClaim, sign
    from tests.support.photos import sha256

    profile = client.profile  # type: ignore[attr-defined]
    claim = UploadClaim(profile.device_id, profile.tps, "PPWP", 1, sha256(photo), now_rfc3339())
    return await ingest.http.post(
        "/v1/uploads",
        params={
            "tps": claim.tps,
            "contest": "PPWP",
            "page": "1",
            "sha256": claim.sha256,
            "captured_at": claim.captured_at,
        },
        content=photo,
        headers={
            "Sirekap-Device": claim.device_id,
            "Sirekap-Signature": sign(profile.key(), claim.signed_bytes()),
        },
    )


@pytest.mark.postgres
async def test_database_refusing_connections_is_503_then_recovers(
    pg_url: str, tmp_path: Path
) -> None:
    """PostgreSQL stops accepting connections (as during a restart) while uploads arrive."""
    import httpx

    from services.ingest.app import create_app
    from shared.reference.load import load_reference
    from shared.settings import Settings
    from tests.conftest import clean_database
    from tests.integration.ingest.conftest import Ingest as IngestHarness

    settings = Settings(database_url=pg_url, data_dir=tmp_path, auth_secret="t" * 32)
    app = create_app(settings)
    name = pg_url.rsplit("/", 1)[1]
    async with app.router.lifespan_context(app):
        await clean_database(app.state.ingest.db)
        await load_reference(app.state.ingest.db, "17.08.01")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:
            harness = IngestHarness(app=app, http=http, settings=settings)
            client = harness.client(await harness.device())
            photo = make_jpeg(62)
            admin = await asyncpg.connect(PG_ADMIN_DSN)
            try:
                await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                    name,
                )
                response = await _raw_upload(harness, client, photo)
                assert response.status_code == 503, response.text  # type: ignore[attr-defined]
                assert response.headers["Retry-After"]  # type: ignore[attr-defined]
            finally:
                await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
                await admin.close()
            receipt = await client.upload_single(photo, contest="PPWP", page=1)
            assert receipt["sha256"]
            assert await rows(harness) == (1, 1, 1)


@pytest.mark.s3
async def test_s3_answering_5xx_without_a_body_is_an_outage(s3_endpoint: str) -> None:
    """A HEAD answered 507 (storage full) carries no XML; it must still read as an outage."""
    import asyncio
    import contextlib

    from shared.storage import StorageUnavailable

    async def full(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await reader.read(65536)
            writer.write(
                b"HTTP/1.1 507 Insufficient Storage\r\nContent-Length: 0\r\n"
                b"Connection: close\r\n\r\n"
            )
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(full, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    store = S3ObjectStore(
        endpoint=f"127.0.0.1:{port}", access_key="x", secret_key="x", bucket="photos"
    )
    try:
        with pytest.raises(StorageUnavailable):
            await store.size("photos/ab/abcd")
        with pytest.raises(StorageUnavailable):
            await store.put("photos/ab/abcd", b"x", "image/jpeg")
    finally:
        server.close()
        await store.close()
