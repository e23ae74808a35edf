"""PostgreSQL restarted for real while uploads, OCR reads, tally reads and the sequencer run.

The server is a throwaway cluster of this module's own (`tests.support.scratch_pg`): the
session's shared server must not be restarted under other tests. Stopping it in fast mode is
the first half of `pg_ctl restart`: every session is terminated mid-whatever ("terminating
connection due to administrator command"); while it is down connections are refused; then it
starts again. Clients must be answered 503 with Retry-After (never another 5xx) and succeed by
retrying; nothing they were acknowledged may be lost.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from clients.kpps.client import KppsClient
from services.ocr.reader.classifier import default_classifier
from services.ocr.worker import Worker
from services.tally.app import create_app as create_tally_app
from shared.audit.config import LogConfig
from shared.db.migrate import upgrade
from shared.settings import Settings
from tests.integration.faults.conftest import (
    Statuses,
    quick_backoff,
    raw_upload,
    recording,
    running_ingest,
)
from tests.support.nothing_lost import assert_nothing_lost
from tests.support.photos import form_photo
from tests.support.scratch_pg import ScratchPostgres

pytestmark = [pytest.mark.postgres, pytest.mark.s3, pytest.mark.slow]
TPS_CODES = ["1708011007001", "1708011007002", "1708011007003"]
READS = ["/api/v1/regions/17.08/totals", "/api/v1/regions/17.08.01"]


@pytest.fixture(scope="module")
def scratch_pg() -> Iterator[ScratchPostgres]:
    server = ScratchPostgres()
    try:
        server.start()
        yield server
    finally:
        server.destroy()


async def _until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_postgres_restarted_while_uploads_and_reads_are_in_flight(
    scratch_pg: ScratchPostgres, s3_endpoint: str, tmp_path: Path
) -> None:
    admin = await asyncpg.connect(scratch_pg.admin_dsn)
    try:
        await admin.execute("CREATE DATABASE sirekap")
    finally:
        await admin.close()
    settings = Settings(
        environment="test",
        database_url=scratch_pg.url("sirekap"),
        storage="s3",
        s3_endpoint=s3_endpoint,
        s3_access_key="test",
        s3_secret_key="test",
        s3_bucket=f"t{uuid.uuid4().hex[:12]}",
        data_dir=tmp_path,
        auth_secret="t" * 32,
    )
    upgrade(settings.database_url)
    statuses: Statuses = []
    hooks: dict[str, list[Any]] = {"response": [recording(statuses)]}
    tally_app = create_tally_app(settings)  # its sequencer runs through the restart too
    receipts: list[dict[str, Any]] = []
    acknowledged_at: list[float] = []
    read_at: list[float] = []
    stop = asyncio.Event()

    async with running_ingest(settings) as ingest, tally_app.router.lifespan_context(tally_app):
        ingest.http.event_hooks = hooks
        # A 500 is answered (and asserted on below), not raised into the reading task.
        transport = httpx.ASGITransport(app=tally_app, raise_app_exceptions=False)
        tally = httpx.AsyncClient(transport=transport, base_url="http://tally", event_hooks=hooks)
        phones = [
            KppsClient(await ingest.device(tps), ingest.http, backoff=quick_backoff(200))
            for tps in TPS_CODES
        ]

        async def upload(phone: KppsClient) -> None:
            n = 0
            while not stop.is_set():
                n += 1
                photo = form_photo(phone.profile.tps, 2, n)
                receipts.append(await phone.upload_single(photo, contest="PPWP", page=2))
                acknowledged_at.append(time.monotonic())
                await asyncio.sleep(0.3)  # a handful of photos in all: each is read and checked

        async def read() -> None:
            while not stop.is_set():
                for path in READS:
                    if (await tally.get(path)).status_code == 200:
                        read_at.append(time.monotonic())
                await asyncio.sleep(0.05)

        async def read_pages() -> None:
            """`services.ocr.worker.work`'s loop, with a short lease: a job whose worker lost
            the database mid-page (claimed, not finished) is taken up again after 3 s, not 60."""
            worker = Worker(ingest.db, ingest.state.store, default_classifier(), "in-flight", 3)
            while not stop.is_set():
                try:
                    busy = await worker.run_once()
                except Exception:  # the database is down: wait, never leave the loop
                    busy = False
                if not busy:
                    await asyncio.sleep(0.2)

        ocr = asyncio.create_task(read_pages())
        load = [asyncio.create_task(upload(p)) for p in phones] + [asyncio.create_task(read())]
        try:
            await _until(lambda: len(receipts) >= 3 and len(read_at) >= 2, 60, "a first load")
            await asyncio.to_thread(scratch_pg.stop)
            # Down: an upload and the reads are each answered 503 with Retry-After.
            refused = form_photo(TPS_CODES[0], 1)
            response = await raw_upload(ingest, phones[0], refused)
            assert response.status_code == 503, response.text
            assert response.headers["Retry-After"]
            for path in READS:  # the hot path's raw asyncpg pool as well as SQLAlchemy's
                response = await tally.get(path)
                assert response.status_code == 503, (path, response.text)
                assert response.headers["Retry-After"]
            await asyncio.sleep(0.5)  # the load keeps meeting the outage
            await asyncio.to_thread(scratch_pg.start)
            up = time.monotonic()
            await _until(
                lambda: any(t > up for t in acknowledged_at) and any(t > up for t in read_at),
                60,
                "uploads and reads to succeed again",
            )
            # The upload refused while the server was down, retried: it succeeds now.
            receipts.append(await phones[0].upload_single(refused, contest="PPWP", page=1))
        finally:
            stop.set()
            outcomes = await asyncio.gather(*load, ocr, return_exceptions=True)
            await tally.aclose()
        assert [o for o in outcomes if isinstance(o, BaseException)] == []
        assert [s for s in statuses if s[1] >= 500 and s[1] != 503] == []
        unavailable = [s for s in statuses if s[1] == 503]
        assert len(unavailable) >= 2
        assert all(retry_after for _, _, retry_after in unavailable)
        await assert_nothing_lost(
            ingest.db, ingest.state.store, receipts, log=LogConfig.from_settings(settings)
        )
