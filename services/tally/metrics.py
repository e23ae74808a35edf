"""Pipeline gauges for Prometheus: OCR queue depth and age, read latency, review backlog, log
size and sequencing lag, read from the database every few seconds.

They describe the whole cluster (every worker shares the database), so one tally process
computing them is enough; a scrape never waits on the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from sqlalchemy import func, select

from services.tally.review.repository import queue_stmt
from shared.db.base import utcnow
from shared.db.engine import Database
from shared.db.tables import AuditEvent, OcrJob, Reading, Submission
from shared.metrics import (
    LOG_SIZE,
    QUEUE_AGE,
    QUEUE_DEPTH,
    READ_LATENCY,
    REVIEW_BACKLOG,
    SEQUENCING_AGE,
    SEQUENCING_LAG,
)

REFRESH_S = 10.0
LATENCY_SAMPLE = 5000  # the newest readings the latency quantiles are taken over, at most
log = logging.getLogger("sirekap.metrics")


async def refresh(db: Database) -> None:
    now = utcnow()
    async with db.reading() as session:
        for status in ("queued", "running"):
            depth = await session.scalar(
                select(func.count()).select_from(OcrJob).where(OcrJob.status == status)
            )
            QUEUE_DEPTH.labels(status).set(depth or 0)
        # Since when the longest-waiting job has been due: one probe of the claim index (the
        # oldest by creation would read every queued job, millions when OCR falls behind).
        oldest = await session.scalar(
            select(func.min(OcrJob.run_after)).where(OcrJob.status == "queued")
        )
        QUEUE_AGE.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0)
        # The newest readings by id (a range of the primary key), those of the last 5 minutes:
        # a filter on `created_at`, which has no index, read the whole table every refresh.
        newest = await session.scalar(select(func.max(Reading.id))) or 0
        recent = (
            await session.execute(
                select(Reading.created_at, Submission.received_at)
                .join(Submission, Submission.id == Reading.submission_id)
                .where(
                    Reading.id > newest - LATENCY_SAMPLE,
                    Reading.created_at > now - timedelta(minutes=5),
                )
            )
        ).all()
        latencies = sorted((r - s).total_seconds() for r, s in recent)
        for quantile in (0.5, 0.95):
            value = latencies[int(quantile * (len(latencies) - 1))] if latencies else 0.0
            READ_LATENCY.labels(str(quantile)).set(value)
        # The review queue's own definition: a retake or a review takes a page off it.
        backlog = await session.scalar(
            select(func.count()).select_from(queue_stmt("", None).subquery())
        )
        REVIEW_BACKLOG.set(backlog or 0)
        size = await session.scalar(select(func.max(AuditEvent.log_index)))
        LOG_SIZE.set(size + 1 if size is not None else 0)
        pending, oldest_event = (
            await session.execute(
                select(func.count(), func.min(AuditEvent.created_at)).where(
                    AuditEvent.log_index.is_(None)
                )
            )
        ).one()
        SEQUENCING_LAG.set(pending or 0)
        SEQUENCING_AGE.set((now - oldest_event).total_seconds() if oldest_event else 0)


async def refresh_forever(db: Database, every_s: float = REFRESH_S) -> None:
    while True:
        try:
            await refresh(db)
        except Exception:  # a database blip must not end the loop; the next pass retries
            log.warning("could not refresh pipeline metrics", exc_info=True)
        await asyncio.sleep(every_s)


@contextlib.asynccontextmanager
async def refreshing(db: Database) -> AsyncIterator[asyncio.Task[None]]:
    """Refresh the gauges in the background for as long as the app runs."""
    task = asyncio.create_task(refresh_forever(db))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
