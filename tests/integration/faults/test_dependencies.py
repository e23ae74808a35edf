"""A dependency fails under an upload: the client gets 503 + Retry-After (never 500), nothing
partial is kept, and the same upload succeeds once the dependency is back."""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import func, select

from benchmarks.faults import S3Proxy
from clients.kpps.client import KppsClient
from shared.db.tables import AuditEvent, OcrJob, Submission
from shared.settings import Settings
from shared.storage import S3ObjectStore
from tests.integration.faults.conftest import (
    Statuses,
    quick_backoff,
    raw_upload,
    recording,
    running_ingest,
)
from tests.integration.ingest.conftest import TPS, Ingest
from tests.support.nothing_lost import assert_nothing_lost
from tests.support.pg_databases import PG_ADMIN_DSN
from tests.support.photos import form_photo


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


@pytest.mark.postgres
@pytest.mark.s3
@pytest.mark.parametrize("fault", ["down", "full"], ids=["unreachable", "disk_full"])
async def test_object_store_fault_then_back(
    fault: str, s3_proxy: S3Proxy, s3_endpoint: str, pg_s3_settings: Settings
) -> None:
    """The S3 server stops answering (connections cut) or answers "storage full" (507, as
    MinIO does when its drives are full) under single and resumable uploads, then comes back."""
    settings = pg_s3_settings.model_copy(update={"s3_endpoint": f"127.0.0.1:{s3_proxy.port}"})
    async with running_ingest(settings) as ingest:
        statuses: Statuses = []
        ingest.http.event_hooks["response"] = [recording(statuses)]
        client = KppsClient(
            await ingest.device(), ingest.http, chunk_size=200_000, backoff=quick_backoff()
        )
        before = await client.upload_single(form_photo(TPS, 1), contest="PPWP", page=1)
        s3_proxy.mode = fault
        refused = form_photo(TPS, 2)
        response = await raw_upload(ingest, client, refused, page=2)
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"]
        assert response.json()["error"] == "ServiceUnavailable"
        assert await rows(ingest) == (1, 1, 1)  # nothing partial kept
        # A resumable upload meets the outage chunk after chunk, backs off, and finishes once
        # the store is back.
        resumable = asyncio.create_task(
            client.upload(form_photo(TPS, 2, 1), contest="PPWP", page=2)
        )
        for _ in range(400):  # up to 20 s on a busy machine; usually well under one
            await asyncio.sleep(0.05)
            if any(path.startswith("/v1/tus") and code == 503 for path, code, _ in statuses):
                break
        else:
            raise AssertionError(f"no resumable request met the outage: {statuses}")
        s3_proxy.mode = "up"
        after = await client.upload_single(refused, contest="PPWP", page=2)
        receipts = [before, after, await resumable]
        assert [code for _, code, _ in statuses if code >= 500 and code != 503] == []
        assert all(retry for _, code, retry in statuses if code == 503)
        assert await rows(ingest) == (3, 3, 3)
        direct = S3ObjectStore(
            endpoint=s3_endpoint, access_key="test", secret_key="test", bucket=settings.s3_bucket
        )
        try:
            await assert_nothing_lost(ingest.db, direct, receipts)
        finally:
            await direct.close()


async def test_local_disk_full_then_space_freed(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded default's photo folder on a full disk: every write fails with ENOSPC."""
    import os

    settings = Settings(
        database_url=sqlite_url, storage="local", data_dir=tmp_path, auth_secret="t" * 32
    )
    async with running_ingest(settings) as ingest:
        client = KppsClient(await ingest.device(), ingest.http, backoff=quick_backoff())
        before = await client.upload_single(form_photo(TPS, 1), contest="PPWP", page=1)
        real_fsync = os.fsync

        def no_space(fd: int) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "fsync", no_space)
        photo = form_photo(TPS, 2)
        response = await raw_upload(ingest, client, photo, page=2)
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"]
        assert await rows(ingest) == (1, 1, 1)
        monkeypatch.setattr(os, "fsync", real_fsync)
        after = await client.upload_single(photo, contest="PPWP", page=2)
        assert after["duplicate"] is False
        await assert_nothing_lost(ingest.db, ingest.state.store, [before, after])


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


@pytest.mark.postgres
async def test_database_refusing_connections_is_503_then_recovers(
    pg_url: str, tmp_path: Path
) -> None:
    """The database refuses new sessions and every open one is terminated (what clients see of
    a restart; `test_postgres_restart` restarts a real server) while an upload arrives."""
    settings = Settings(database_url=pg_url, data_dir=tmp_path, auth_secret="t" * 32)
    name = pg_url.rsplit("/", 1)[1]
    async with running_ingest(settings) as ingest:
        client = KppsClient(await ingest.device(), ingest.http, backoff=quick_backoff())
        photo = form_photo(TPS, 1)
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                name,
            )
            response = await raw_upload(ingest, client, photo)
            assert response.status_code == 503, response.text
            assert response.headers["Retry-After"]
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            await admin.close()
        receipt = await client.upload_single(photo, contest="PPWP", page=1)
        assert await rows(ingest) == (1, 1, 1)
        await assert_nothing_lost(ingest.db, ingest.state.store, [receipt])


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
