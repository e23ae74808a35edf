"""The worker against real databases: a killed worker's job is finished by another, a job read
twice gives one reading, and the reading commits with its event and status or not at all."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from clients.kpps.client import KppsClient
from services.ocr import repository
from services.ocr.reader.classifier import default_classifier
from services.ocr.worker import Worker
from shared.db.engine import Database
from shared.db.tables import Acceptance, AuditEvent, JobStatus, OcrJob, Reading, Submission
from shared.forms.generate import generate_photo
from shared.forms.truth import make_truth
from shared.settings import Settings
from shared.storage import LocalObjectStore
from tests.integration.faults.conftest import running_ingest
from tests.integration.ingest.conftest import TPS, settings_for
from tests.integration.ocr.conftest import DPT, TPS_CODE, add_submission
from tests.support.killing import kill_when_it_says
from tests.support.nothing_lost import assert_nothing_lost
from tests.support.photos import form_photo

LEASE_S = 3.0  # long enough that the survivor's first try surely finds the job still leased


@pytest.fixture(scope="module")
def photo() -> bytes:
    truth = make_truth("PPWP", TPS_CODE, seed=3, dpt=DPT)
    jpeg, _ = generate_photo(TPS_CODE, "PPWP", 2, truth, "clean", seed=3, side="eval")
    return jpeg


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "objects")


def _worker(db: Database, store: LocalObjectStore, name: str) -> Worker:
    return Worker(db, store, default_classifier(), name)


async def _counts(db: Database, sid: str) -> tuple[int, int, str, str]:
    async with db.reading() as session:
        readings = await session.scalar(
            select(func.count()).select_from(Reading).where(Reading.submission_id == sid)
        )
        events = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.kind == "reading")
        )
        job = await session.execute(select(OcrJob.status).where(OcrJob.submission_id == sid))
        status = await session.execute(select(Submission.status).where(Submission.id == sid))
        return int(readings or 0), int(events or 0), job.scalar_one(), status.scalar_one()


_HOLDER = textwrap.dedent(
    """
    import asyncio, sys, time
    from services.ocr import queue
    from shared.db.engine import open_database

    async def main():
        db = open_database(sys.argv[1])
        async with db.transaction() as session:
            job = await queue.claim(session, "doomed", lease_seconds=float(sys.argv[2]))
        print("claimed" if job else "nothing", flush=True)
        time.sleep(120)  # "reading": killed before it can finish

    asyncio.run(main())
    """
)


async def test_a_killed_workers_job_is_finished_by_another(
    db: Database, db_url: str, store: LocalObjectStore, photo: bytes
) -> None:
    sid = await add_submission(db, photo, page=2, store=store)
    # Killed mid-job: no chance to report or clean up.
    await kill_when_it_says(_HOLDER, db_url, str(LEASE_S), marker=b"claimed")
    survivor = _worker(db, store, "survivor")
    assert not await survivor.run_once()  # the dead worker's lease still holds the job
    for _ in range(300):  # the lease runs out after LEASE_S; give it up to 30 s
        if await survivor.run_once():
            break
        await asyncio.sleep(0.1)
    readings, events, job, status = await _counts(db, sid)
    assert (readings, events, job) == (1, 1, JobStatus.DONE)
    assert status in ("accepted", "needs_review")
    async with db.reading() as session:
        attempts = await session.scalar(select(OcrJob.attempts).where(OcrJob.submission_id == sid))
    assert attempts == 2


async def test_a_job_read_twice_gives_one_reading(
    db: Database, store: LocalObjectStore, photo: bytes
) -> None:
    sid = await add_submission(db, photo, page=2, store=store)
    w = _worker(db, store, "w1")
    assert await w.run_once()
    first = await _counts(db, sid)
    # A re-run, as after a crash between commit and report: the job is runnable again.
    async with db.transaction() as session:
        await session.execute(
            update(OcrJob).where(OcrJob.submission_id == sid).values(status=JobStatus.QUEUED)
        )
    assert await w.run_once()
    assert await _counts(db, sid) == first
    assert first[:3] == (1, 1, JobStatus.DONE)


async def test_two_workers_at_once_read_each_job_once(
    db: Database, store: LocalObjectStore, photo: bytes
) -> None:
    sids = [await add_submission(db, photo, page=2, store=store) for _ in range(3)]
    workers = [_worker(db, store, f"w{i}") for i in range(2)]

    async def drain(w: Worker) -> None:
        while await w.run_once():
            pass

    await asyncio.gather(*(drain(w) for w in workers))
    for sid in sids:
        readings, _, job, _ = await _counts(db, sid)
        assert (readings, job) == (1, JobStatus.DONE)


class SlowStore(LocalObjectStore):
    """A store whose reads take `delay_s`: a degraded MinIO."""

    def __init__(self, root: Path, delay_s: float) -> None:
        super().__init__(root)
        self.delay_s = delay_s

    async def get(self, key: str) -> bytes:
        await asyncio.sleep(self.delay_s)
        return await super().get(key)


async def test_a_read_that_outlasts_the_lease_keeps_its_job(
    db: Database, tmp_path: Path, photo: bytes
) -> None:
    # A lease of 1.2 s is renewed every 0.4 s; the page's CPU work (which blocks the loop, and
    # the renewals with it) must stay under ~0.8 s, a tenth of that here.
    slow = SlowStore(tmp_path / "objects", delay_s=3.0)
    sid = await add_submission(db, photo, page=2, store=slow)
    first = Worker(db, slow, default_classifier(), "w1", lease_seconds=1.2)
    other = Worker(db, slow, default_classifier(), "w2", lease_seconds=1.2)
    reading = asyncio.create_task(first.run_once())
    await asyncio.sleep(0.3)  # w1 has claimed the job and waits on the store
    other_claimed = []
    while not reading.done():  # 2.5 leases pass while the photo loads: the lease is renewed
        other_claimed.append(await other.run_once())
        await asyncio.sleep(0.1)
    assert await reading
    assert len(other_claimed) >= 5 and not any(other_claimed)
    readings, _, job, _ = await _counts(db, sid)
    async with db.reading() as session:
        attempts = await session.scalar(select(OcrJob.attempts).where(OcrJob.submission_id == sid))
    assert (readings, job, attempts) == (1, JobStatus.DONE, 1)


async def test_reading_status_and_event_commit_together_or_not_at_all(
    db: Database, store: LocalObjectStore, photo: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = await add_submission(db, photo, page=2, store=store)

    async def broken_status(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database went away mid-transaction")

    monkeypatch.setattr(repository, "set_submission_status", broken_status)
    assert await _worker(db, store, "w1").run_once()
    readings, events, job, status = await _counts(db, sid)
    assert (readings, events, job, status) == (0, 0, JobStatus.QUEUED, "received")
    async with db.reading() as session:
        error = await session.scalar(select(OcrJob.last_error).where(OcrJob.submission_id == sid))
    assert error is not None and "went away" in error


async def test_a_missing_photo_is_retried_not_lost(db: Database, store: LocalObjectStore) -> None:
    sid = await add_submission(db, b"never stored")
    assert await _worker(db, store, "w1").run_once()
    readings, _, job, _ = await _counts(db, sid)
    assert (readings, job) == (0, JobStatus.QUEUED)


async def test_an_auto_accepted_page_is_accepted_in_the_same_transaction(
    db: Database, store: LocalObjectStore, photo: bytes
) -> None:
    sid = await add_submission(db, photo, page=2, store=store)
    assert await _worker(db, store, "w1").run_once()
    async with db.reading() as session:
        reading = (
            await session.execute(select(Reading).where(Reading.submission_id == sid))
        ).scalar_one()
        accepted = await session.scalar(
            select(func.count()).select_from(Acceptance).where(Acceptance.submission_id == sid)
        )
        status = await session.scalar(select(Submission.status).where(Submission.id == sid))
    # A clean photo of a page with six fields: read right and consistent, so counted at once.
    assert reading.outcome == "auto_accepted"
    assert (accepted, status) == (1, "accepted")
    assert reading.failing == []
    assert reading.model_sha256 == default_classifier().sha256
    assert reading.event_id > 0


_KILLED_MID_PAGE = textwrap.dedent(
    """
    import asyncio, sys, time
    from services.ocr import worker
    from services.ocr.reader.classifier import default_classifier
    from shared.db.engine import database_from_settings
    from shared.settings import Settings
    from shared.storage import open_store

    def reading(*args, **kwargs):
        print("reading", flush=True)  # the job claimed, its photo fetched, the page half read
        time.sleep(120)  # when SIGKILL arrives

    worker.read_page = reading

    async def main():
        settings = Settings.model_validate_json(sys.argv[1])
        db = database_from_settings(settings)
        store = await open_store(settings)
        model = default_classifier()
        await worker.Worker(db, store, model, "killed", float(sys.argv[2])).run_once()
        print("nothing to read", flush=True)

    asyncio.run(main())
    """
)


@pytest.fixture
def pg_s3_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    return settings_for("postgres-s3", tmp_path, request)


@pytest.mark.postgres
@pytest.mark.s3
async def test_a_worker_killed_mid_page_loses_no_acknowledged_photo(
    pg_s3_settings: Settings,
) -> None:
    """Real uploads (PostgreSQL + S3) of real forms; a worker process is SIGKILLed halfway
    through reading one; another worker takes the job over when its lease runs out, and every
    acknowledged photo ends up read once and counted once."""
    settings = pg_s3_settings
    async with running_ingest(settings) as ingest:
        phone = KppsClient(await ingest.device(), ingest.http)
        receipts = [
            await phone.upload_single(form_photo(TPS, page, n), contest="PPWP", page=page)
            for page, n in ((1, 0), (2, 0), (2, 1))
        ]
        await kill_when_it_says(
            _KILLED_MID_PAGE, settings.model_dump_json(), str(LEASE_S), marker=b"reading"
        )
        async with ingest.db.reading() as session:
            held = await session.execute(select(OcrJob).where(OcrJob.worker == "killed"))
            job = held.scalar_one()
            assert (job.status, job.attempts) == (JobStatus.RUNNING, 1)
            assert not await session.scalar(select(func.count()).select_from(Reading))
        await assert_nothing_lost(ingest.db, ingest.state.store, receipts)
        async with ingest.db.reading() as session:
            taken_over = await session.get(OcrJob, job.id)
        assert taken_over is not None
        assert (taken_over.status, taken_over.attempts) == (JobStatus.DONE, 2)
