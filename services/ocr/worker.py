"""The OCR worker: claim a job, read its photo, commit the reading, repeat.

`run_workers(settings, processes=N)` starts N worker processes and blocks until SIGINT/SIGTERM.
Each process owns one event loop for database and object-store I/O and does the CPU work (JPEG
decoding, OpenCV, the classifier) on that same thread: the loop serves no requests, so blocking
it costs nothing, and separate processes use separate cores without sharing the GIL.

One job is one transaction: the reading, the submission's new status, the audit event (kind
"reading") and, when the page is accepted automatically, `accept_page(...)` commit together or
not at all. While a job runs, its worker renews the job's lease, so a page that waits long on a
slow store is not claimed by a second worker. A re-run (the worker died after committing but
before it could report, or its lease ran out all the same) finds the reading already there and
only marks the job done: one reading per submission, enforced by a unique key.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing as mp
import os
import signal
import socket
import time
from dataclasses import dataclass
from typing import Any

import cv2
from sqlalchemy.ext.asyncio import AsyncSession

from services.ocr import queue, repository
from services.ocr.reader.classifier import Classifier, default_classifier
from services.ocr.reader.page import read_page
from services.ocr.reader.result import Claim, PageReading
from shared.acceptance import accept_page
from shared.db.engine import Database, database_from_settings
from shared.db.tables.readings import ReadingOutcome
from shared.db.tables.submissions import SubmissionStatus
from shared.events import record_event
from shared.logs import bind, configure_logging
from shared.settings import Settings
from shared.storage import ObjectStore, open_store, photo_key

log = logging.getLogger("sirekap.ocr")

IDLE_POLL_SECONDS = 0.5  # an empty queue is polled twice a second: ~2 cheap queries per worker
UNREACHABLE_PAUSE_SECONDS = 5.0
STATUS_OF = {
    ReadingOutcome.AUTO_ACCEPTED: SubmissionStatus.ACCEPTED,
    ReadingOutcome.NEEDS_REVIEW: SubmissionStatus.NEEDS_REVIEW,
    ReadingOutcome.RETAKE: SubmissionStatus.RETAKE,
    # The KPPS must upload the right sheet: to them it is a retake, with the reason saying why.
    ReadingOutcome.WRONG_FORM: SubmissionStatus.RETAKE,
}
# Boxes shown to a reviewer beside the photo: every box of a failing field, and any box the
# classifier was less sure of than this.
CROP_BELOW_PROB = 0.999


@dataclass
class Worker:
    db: Database
    store: ObjectStore
    model: Classifier
    name: str
    lease_seconds: float = queue.LEASE_SECONDS

    async def run_once(self) -> bool:
        """Claim and finish one job; False when the queue had nothing runnable."""
        async with self.db.transaction() as session:
            await queue.bury_exhausted(session)
            job = await queue.claim(session, self.name, self.lease_seconds)
        if job is None:
            return False
        with bind(job_id=job.id, submission_id=job.submission_id):  # on every line below
            started = time.perf_counter()
            finished = asyncio.Event()
            renewal = asyncio.create_task(self._keep_lease(job, finished))
            try:
                await self.process(job)
            except Exception as exc:  # any failure is retried with backoff, then the job is dead
                log.exception("job %s (submission %s) failed", job.id, job.submission_id)
                async with self.db.transaction() as session:
                    await queue.fail(session, job, f"{type(exc).__name__}: {exc}")
            else:
                duration_ms = round((time.perf_counter() - started) * 1000, 1)
                log.info("job %s done", job.id, extra={"duration_ms": duration_ms})
            finally:
                finished.set()  # not cancel(): a renewal under way ends its transaction cleanly
                await renewal
        return True

    async def _keep_lease(self, job: queue.ClaimedJob, finished: asyncio.Event) -> None:
        """Renew the job's lease every third of it while the job runs. The renewals run only
        while `process` awaits (the store, the database): the page's CPU work, well under a
        second, blocks the loop. A renewal that finds the job taken stops; of the two readings
        then under way, the one that commits second is a no-op (one reading per submission)."""
        while True:
            try:
                await asyncio.wait_for(finished.wait(), self.lease_seconds / 3)
                return
            except TimeoutError:
                pass
            try:
                async with self.db.transaction() as session:
                    held = await queue.renew(session, job, self.lease_seconds)
            except Exception:  # the database is unreachable: the next renewal tries again
                log.warning("could not renew the lease of job %s", job.id, exc_info=True)
                continue
            if not held:
                log.warning("job %s: lease lost to another worker", job.id)
                return

    async def process(self, job: queue.ClaimedJob) -> None:
        async with self.db.reading() as session:
            sub = await repository.load_submission(session, job.submission_id)
            done = await repository.reading_exists(session, job.submission_id)
        if sub is None:
            raise LookupError(f"submission {job.submission_id} does not exist")
        if done:
            async with self.db.transaction() as session:
                await queue.finish(session, job)
            return
        jpeg = await self.store.get(photo_key(sub.sha256))
        reading = read_page(jpeg, Claim(sub.tps_code, sub.contest, sub.page, sub.dpt), self.model)
        crop_keys = await self._store_crops(sub.id, reading)
        async with self.db.transaction() as session:
            await save_reading(session, sub, reading, crop_keys, actor=self.name)
            await queue.finish(session, job)

    async def _store_crops(self, submission_id: str, reading: PageReading) -> dict[str, str]:
        """PNG crops of the boxes a reviewer should see, keyed `<field>_<box>`."""
        keys: dict[str, str] = {}
        if reading.outcome == ReadingOutcome.AUTO_ACCEPTED:
            return keys
        for (field, box), crop in reading.crops.items():
            fr = reading.fields.get(field)
            prob = float(reading.box_probs[(field, box)].max())
            if fr is None or (fr.ok and prob >= CROP_BELOW_PROB):
                continue
            ok, png = cv2.imencode(".png", crop)
            if not ok:
                continue
            key = f"crops/{submission_id}/{field}_{box}.png"
            await self.store.put(key, png.tobytes(), "image/png")
            keys[f"{field}_{box}"] = key
        return keys


async def save_reading(
    session: AsyncSession,
    sub: repository.SubmissionInfo,
    reading: PageReading,
    crop_keys: dict[str, str],
    *,
    actor: str,
) -> int | None:
    """Write the reading, its event, the submission status and (auto) the acceptance.

    Returns the reading id, or None when the submission already had a reading.
    """
    fields: dict[str, Any] = {}
    for key, fr in reading.fields.items():
        data = fr.to_json()
        for i, box in enumerate(data["boxes"]):
            box["crop_key"] = crop_keys.get(f"{key}_{i}")
        fields[key] = data
    failing = reading.failing_json()
    reading_id = await repository.insert_reading(
        session,
        {
            "submission_id": sub.id,
            "tps_code": sub.tps_code,
            "contest": sub.contest,
            "page": sub.page,
            "values": reading.values,
            "fields": fields,
            "failing": failing,
            "outcome": reading.outcome,
            "confidence": round(reading.confidence, 6),
            "model_sha256": reading.model_sha256,
            "reader_version": reading.reader_version,
            "event_id": 0,  # set below, once the event exists
        },
    )
    if reading_id is None:
        return None
    event = await record_event(
        session,
        kind="reading",
        tps_code=sub.tps_code,
        contest=sub.contest,
        payload={
            "submission": sub.id,
            "photo_sha256": sub.sha256,
            "photo_event": sub.event_id,
            "page": sub.page,
            "reading": reading_id,
            "reader_version": reading.reader_version,
            "model_sha256": reading.model_sha256,
            "outcome": reading.outcome,
            "confidence": round(reading.confidence, 6),
            "values": reading.values,
            "field_confidence": {k: round(f.confidence, 6) for k, f in reading.fields.items()},
            "failing": failing,
        },
    )
    await repository.set_reading_event(session, reading_id, event.id)
    outcome = ReadingOutcome(reading.outcome)
    reason = reading.reason.en if reading.reason is not None else None
    if outcome is ReadingOutcome.NEEDS_REVIEW:
        reason = "; ".join(f"{f['field']}: {f['reason_en']}" for f in failing)[:500]
    await repository.set_submission_status(session, sub.id, STATUS_OF[outcome].value, reason)
    if outcome is ReadingOutcome.AUTO_ACCEPTED:
        values = {k: v for k, v in reading.values.items() if v is not None}
        await accept_page(
            session,
            submission_id=sub.id,
            tps_code=sub.tps_code,
            contest=sub.contest,
            page=sub.page,
            values=values,
            source="auto",
            reading_id=reading_id,
            actor=actor,
            reason=None,
        )
    return reading_id


async def work(settings: Settings, stop: Any, name: str | None = None) -> None:
    """One worker's loop until `stop` (a multiprocessing or threading Event) is set."""
    db = database_from_settings(settings)
    store = await open_store(settings)
    worker = Worker(db, store, default_classifier(), name or worker_name())
    try:
        with bind(worker=worker.name):
            while not stop.is_set():
                try:
                    busy = await worker.run_once()
                except Exception:  # the database or store is down: wait, never exit the loop
                    log.exception("worker %s could not reach the queue", worker.name)
                    busy = False
                    await asyncio.sleep(UNREACHABLE_PAUSE_SECONDS)
                if not busy:
                    await asyncio.sleep(IDLE_POLL_SECONDS)
    finally:
        await store.close()
        await db.dispose()


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _process_main(settings: Settings, stop: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    cv2.setNumThreads(1)  # one process per core; OpenCV's own threads would oversubscribe
    configure_logging("ocr", settings)  # a spawned process starts with no logging set up
    asyncio.run(work(settings, stop))


def run_workers(settings: Settings, processes: int = 1) -> None:
    """Start `processes` worker processes; block until SIGINT/SIGTERM, then stop them."""
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    procs = [
        ctx.Process(target=_process_main, args=(settings, stop), name=f"ocr-worker-{i}")
        for i in range(processes)
    ]
    for p in procs:
        p.start()

    def _stop(_sig: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        while not stop.is_set() and any(p.is_alive() for p in procs):
            time.sleep(0.5)
    finally:
        stop.set()
        for p in procs:
            p.join(timeout=queue.LEASE_SECONDS)
            if p.is_alive():
                p.terminate()
