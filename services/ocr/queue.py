"""The OCR job queue: claim, finish, retry, give up. All SQL for `ocr_jobs` lives here.

A claim is an UPDATE ... WHERE id = (SELECT ... LIMIT 1) RETURNING: first for a job whose
lease expired, then for the oldest due one. On PostgreSQL the inner SELECT takes `FOR UPDATE
SKIP LOCKED`, so workers on any number of machines skip each other's rows instead of queueing
on them. On SQLite the engine opens every write transaction with BEGIN IMMEDIATE, which
serialises writers, so the same statements are atomic there too.

A claimed job carries a lease, which its worker renews while it waits on the store or the
database (`renew`), so a slow page is never read by two workers at once. A worker that dies
(SIGKILL, power cut) stops renewing: once `lease_until` passes, the job is claimable again,
and the attempt it used counts. Failures retry after 2, 4, 8 ... seconds; after MAX_ATTEMPTS
the job is `dead` with its last error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.base import UTCDateTime, utcnow
from shared.db.tables.jobs import JobStatus

# A page takes < 0.2 s to read; a minute covers a slow object store and a busy database with
# room to spare, and a dead worker's job waits at most this long.
LEASE_SECONDS = 60.0
MAX_ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 300.0

# Two claims, each one statement, tried in turn: a job whose worker died (its lease expired),
# then the oldest due queued job. Kept apart, each is an index scan on (status, run_after) that
# stops at the first row it can lock; one query with `status = 'queued' OR status = 'running'`
# made PostgreSQL read and sort every due job instead: 273 ms a claim behind a million queued
# jobs (the capacity plan lets OCR lag uploads by an hour: millions), 2.3 ms now
# (`python -m benchmarks.ocr_queue`, 2026-11-29).
_CLAIM = """
UPDATE ocr_jobs
SET status = 'running', attempts = attempts + 1, lease_until = :lease_until, worker = :worker
WHERE id = (
    SELECT id FROM ocr_jobs
    WHERE {runnable}
    ORDER BY {order}
    LIMIT 1
    {lock}
)
AND {runnable}
RETURNING id, submission_id, attempts
"""
_EXPIRED = ("status = 'running' AND lease_until < :now", "lease_until, id")
_DUE = ("status = 'queued' AND run_after <= :now", "run_after, id")


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: int
    submission_id: str
    attempts: int  # including this one
    worker: str


def backoff(attempts: int) -> timedelta:
    """Wait before the next try: 2 s after the first failure, doubling, at most 5 minutes."""
    seconds = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempts - 1))
    return timedelta(seconds=seconds)


_TIMES = ("now", "lease_until", "run_after", "finished")


def _sql(statement: str) -> TextClause:
    """Text SQL whose time parameters go through the column type (SQLite stores them as text in
    one fixed format; comparing against any other format would silently misorder)."""
    clause = text(statement)
    names = [n for n in _TIMES if f":{n}" in statement]
    return clause.bindparams(*(bindparam(n, type_=UTCDateTime()) for n in names))


async def claim(
    session: AsyncSession, worker: str, lease_seconds: float = LEASE_SECONDS
) -> ClaimedJob | None:
    """Take the oldest runnable job (queued and due, or running with an expired lease)."""
    now = utcnow()
    lock = "FOR UPDATE SKIP LOCKED" if session.get_bind().dialect.name == "postgresql" else ""
    params = {"now": now, "lease_until": now + timedelta(seconds=lease_seconds), "worker": worker}
    for runnable, order in (_EXPIRED, _DUE):
        sql = _sql(_CLAIM.format(runnable=runnable, order=order, lock=lock))
        row = (await session.execute(sql, params)).first()
        if row is not None:
            return ClaimedJob(int(row[0]), str(row[1]), int(row[2]), worker)
    return None


async def renew(
    session: AsyncSession, job: ClaimedJob, lease_seconds: float = LEASE_SECONDS
) -> bool:
    """Extend the lease of a job this worker still holds; False when it no longer does (the
    lease ran out and another worker claimed the job, or the job ended)."""
    result = await session.execute(
        _sql(
            "UPDATE ocr_jobs SET lease_until = :lease_until "
            "WHERE id = :id AND worker = :worker AND status = 'running' AND attempts = :attempts"
        ),
        {
            "lease_until": utcnow() + timedelta(seconds=lease_seconds),
            "id": job.id,
            "worker": job.worker,
            "attempts": job.attempts,
        },
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def finish(session: AsyncSession, job: ClaimedJob) -> None:
    """Mark the job done (in the transaction that stores its result)."""
    await session.execute(
        _sql(
            "UPDATE ocr_jobs SET status = :done, finished_at = :now, lease_until = NULL "
            "WHERE id = :id"
        ),
        {"done": JobStatus.DONE.value, "now": utcnow(), "id": job.id},
    )


async def fail(session: AsyncSession, job: ClaimedJob, error: str) -> str:
    """Record a failed attempt: back to `queued` after a backoff, or `dead`. Returns the status.

    Only the worker that holds the job may fail it: if its lease expired and another worker
    took the job over, this late report is dropped.
    """
    now = utcnow()
    dead = job.attempts >= MAX_ATTEMPTS
    status = JobStatus.DEAD if dead else JobStatus.QUEUED
    await session.execute(
        _sql(
            "UPDATE ocr_jobs SET status = :status, run_after = :run_after, lease_until = NULL, "
            "worker = NULL, last_error = :error, finished_at = :finished "
            "WHERE id = :id AND worker = :worker AND status = 'running'"
        ),
        {
            "status": status.value,
            "run_after": now + backoff(job.attempts),
            "error": error[:4000],
            "finished": now if dead else None,
            "id": job.id,
            "worker": job.worker,
        },
    )
    return status.value


async def bury_exhausted(session: AsyncSession) -> int:
    """Jobs whose worker died MAX_ATTEMPTS times: `dead` instead of claimed yet again."""
    now = utcnow()
    result = await session.execute(
        _sql(
            "UPDATE ocr_jobs SET status = 'dead', lease_until = NULL, finished_at = :now, "
            "last_error = COALESCE(last_error, 'lease expired: the worker died while reading') "
            "WHERE status = 'running' AND lease_until < :now AND attempts >= :max"
        ),
        {"now": now, "max": MAX_ATTEMPTS},
    )
    return int(getattr(result, "rowcount", 0) or 0)
