"""The job queue on real PostgreSQL and SQLite: exclusive claims, leases, retries, dead jobs."""

from __future__ import annotations

import asyncio

from sqlalchemy import select, update

from services.ocr import queue
from shared.db.engine import Database
from shared.db.tables import JobStatus, OcrJob
from tests.integration.ocr.conftest import add_submission


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
