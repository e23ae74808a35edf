"""The job queue on real PostgreSQL and SQLite: exclusive claims, leases, retries, dead jobs."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from benchmarks.ocr_queue import RUNNING, load, one_query_claim
from services.ocr import queue
from shared.db.engine import Database, open_database
from shared.db.migrate import upgrade_async
from shared.db.tables import JobStatus, OcrJob
from tests.integration.ocr.conftest import add_submission
from tests.support.pg_databases import database_url, drop_database, recreate_database


async def _claim(db: Database, worker: str, lease: float = 60.0) -> queue.ClaimedJob | None:
    async with db.transaction() as session:
        return await queue.claim(session, worker, lease)


async def _job(db: Database, job_id: int) -> OcrJob:
    async with db.reading() as session:
        return (await session.execute(select(OcrJob).where(OcrJob.id == job_id))).scalar_one()


async def test_concurrent_workers_never_claim_the_same_job(db: Database) -> None:
    for _ in range(6):
        await add_submission(db, b"photo")
    claims = await asyncio.gather(*(_claim(db, f"w{i}") for i in range(10)))
    taken = [c.id for c in claims if c is not None]
    assert len(taken) == 6
    assert len(set(taken)) == 6  # no job handed out twice
    assert await _claim(db, "late") is None


async def test_a_running_job_with_a_live_lease_is_not_claimed(db: Database) -> None:
    await add_submission(db, b"photo")
    first = await _claim(db, "w1")
    assert first is not None
    assert await _claim(db, "w2") is None


async def test_an_expired_lease_hands_the_job_to_another_worker(db: Database) -> None:
    await add_submission(db, b"photo")
    first = await _claim(db, "w1", lease=-1.0)  # the worker died: its lease is already over
    assert first is not None and first.attempts == 1
    second = await _claim(db, "w2")
    assert second is not None
    assert (second.id, second.attempts, second.worker) == (first.id, 2, "w2")
    # The dead worker's late report must not undo the new owner's claim.
    async with db.transaction() as session:
        await queue.fail(session, first, "late")
    job = await _job(db, first.id)
    assert (job.status, job.worker) == (JobStatus.RUNNING, "w2")


async def test_only_the_holder_renews_a_lease(db: Database) -> None:
    await add_submission(db, b"photo")
    first = await _claim(db, "w1", lease=-1.0)  # its lease is over before it can renew
    assert first is not None
    second = await _claim(db, "w2", lease=-1.0)
    assert second is not None
    async with db.transaction() as session:
        assert not await queue.renew(session, first)  # taken over: the old holder cannot renew
        assert await queue.renew(session, second, 60.0)
    assert await _claim(db, "w3") is None  # renewed: nobody else may claim it now
    async with db.transaction() as session:
        await queue.finish(session, second)
        assert not await queue.renew(session, second)  # a finished job has no lease


async def test_failures_back_off_then_end_dead_with_the_error(db: Database) -> None:
    await add_submission(db, b"photo")
    statuses = []
    for attempt in range(1, queue.MAX_ATTEMPTS + 1):
        job = await _claim(db, "w1")
        assert job is not None and job.attempts == attempt
        async with db.transaction() as session:
            statuses.append(await queue.fail(session, job, f"boom {attempt}"))
        row = await _job(db, job.id)
        if row.status == JobStatus.QUEUED:
            assert await _claim(db, "w1") is None  # not before its backoff has passed
            async with db.transaction() as session:  # let the clock "pass" the backoff
                await session.execute(
                    update(OcrJob).where(OcrJob.id == job.id).values(run_after=row.created_at)
                )
    assert statuses == ["queued"] * (queue.MAX_ATTEMPTS - 1) + ["dead"]
    assert job is not None
    row = await _job(db, job.id)
    assert row.last_error == f"boom {queue.MAX_ATTEMPTS}"
    assert await _claim(db, "w1") is None


async def test_a_job_whose_worker_keeps_dying_is_buried(db: Database) -> None:
    await add_submission(db, b"photo")
    for _ in range(queue.MAX_ATTEMPTS):
        assert await _claim(db, "w", lease=-1.0) is not None
    async with db.transaction() as session:
        assert await queue.bury_exhausted(session) == 1
    assert await _claim(db, "w") is None


def test_backoff_doubles_and_is_capped() -> None:
    assert [queue.backoff(n).total_seconds() for n in (1, 2, 3)] == [2.0, 4.0, 8.0]
    assert queue.backoff(30).total_seconds() == queue.BACKOFF_MAX_SECONDS


@pytest.fixture
async def long_queue() -> AsyncIterator[Database]:
    """A PostgreSQL database of its own holding 20,000 finished and 20,000 due jobs."""
    name = f"sirekap_t_long_queue_{os.getpid()}"
    await recreate_database(name)
    url = database_url(name)
    await upgrade_async(url)
    db = open_database(url)
    await load(db, done=20_000, queued=20_000)
    yield db
    await db.dispose()
    await drop_database(name)


def _most_rows_scanned(node: dict[str, Any]) -> int:
    """The most rows any scan node of a plan touched (returned, or read and filtered out)."""
    here = 0
    if "Scan" in node["Node Type"]:
        here = node["Actual Rows"] * node["Actual Loops"] + node.get("Rows Removed by Filter", 0)
    return max([here, *(_most_rows_scanned(child) for child in node.get("Plans", []))])


async def _rows_scanned(
    db: Database, claim: Callable[[AsyncSession, str], Awaitable[object]]
) -> int:
    """Run `claim`, then EXPLAIN ANALYZE each statement it sent, with the same parameters."""
    sent: list[tuple[str, Any]] = []

    def record(_conn: object, _cursor: object, statement: str, parameters: Any, *_: object) -> None:
        sent.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        async with db.transaction() as session:
            assert await claim(session, "probe") is not None
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    most = 0
    for statement, parameters in sent:
        async with db.transaction() as session:
            raw = await (await session.connection()).get_raw_connection()
            assert raw.driver_connection is not None
            plan = await raw.driver_connection.fetchval(
                f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", *parameters
            )
        # asyncpg may hand the JSON back decoded already (a codec the engine registers).
        tree = json.loads(plan) if isinstance(plan, str) else plan
        most = max(most, _most_rows_scanned(tree[0]["Plan"]))
    return most


@pytest.mark.postgres
async def test_a_claim_reads_a_few_rows_however_long_the_queue(long_queue: Database) -> None:
    # The probe for expired leases reads the running jobs (one per worker: 200 here); the
    # probe for due jobs stops at the first it can lock, whatever waits behind it.
    assert await _rows_scanned(long_queue, queue.claim) <= 2 * RUNNING
    # The claim before 2026-11-29, one query for both kinds of runnable job, read them all.
    assert await _rows_scanned(long_queue, one_query_claim) >= 10_000
