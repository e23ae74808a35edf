"""The atomic hand-off: photo object, submission row, OCR job and audit event, all or nothing.

The object is written first (content-addressed, so writing it twice is harmless), then one
transaction records the submission, enqueues its OCR job and appends its audit event. If that
transaction fails the object may be left without a row; `sweeper.sweep_orphans` removes such
objects once they are older than any upload in flight. An acknowledged upload therefore always
has its object, its row, its job and its event.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.claims import VerifiedClaim
from services.ingest.photo_check import PhotoInfo
from shared.db.base import utcnow
from shared.db.engine import Database
from shared.db.tables import JobStatus, OcrJob, Submission, SubmissionStatus
from shared.events import format_time, record_event
from shared.metrics import HANDOFF_SECONDS, UPLOAD_BYTES, UPLOADS
from shared.storage import ObjectStore, photo_key

PHOTO_EVENT = "photo"


@dataclass(frozen=True, slots=True)
class Receipt:
    submission_id: str
    sha256: str
    tps: str
    contest: str
    page: int
    version: int
    received_at: datetime
    event_id: int
    duplicate: bool

    def to_json(self) -> dict[str, object]:
        return {
            "submission_id": self.submission_id,
            "sha256": self.sha256,
            "tps": self.tps,
            "contest": self.contest,
            "page": self.page,
            "version": self.version,
            "received_at": format_time(self.received_at),
            "event_id": self.event_id,
            "duplicate": self.duplicate,
            "status_url": f"/v1/submissions/{self.submission_id}",
        }


def receipt_of(submission: Submission, *, duplicate: bool) -> Receipt:
    return Receipt(
        submission_id=submission.id,
        sha256=submission.sha256,
        tps=submission.tps_code,
        contest=submission.contest,
        page=submission.page,
        version=submission.version,
        received_at=submission.received_at,
        event_id=submission.event_id,
        duplicate=duplicate,
    )


async def find_existing(session: AsyncSession, claim: VerifiedClaim) -> Submission | None:
    c = claim.claim
    stmt = select(Submission).where(
        Submission.tps_code == c.tps,
        Submission.contest == c.contest,
        Submission.page == c.page,
        Submission.sha256 == c.sha256,
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def existing_receipt(db: Database, claim: VerifiedClaim) -> Receipt | None:
    async with db.reading() as session:
        existing = await find_existing(session, claim)
    if existing is None:
        return None
    UPLOADS.labels("duplicate").inc()
    return receipt_of(existing, duplicate=True)


async def _record(
    session: AsyncSession, claim: VerifiedClaim, info: PhotoInfo, size: int
) -> Submission:
    c = claim.claim
    latest = await session.scalar(
        select(func.max(Submission.version)).where(
            Submission.tps_code == c.tps, Submission.contest == c.contest, Submission.page == c.page
        )
    )
    version = (latest or 0) + 1
    received_at = utcnow()
    event = await record_event(
        session,
        kind=PHOTO_EVENT,
        tps_code=c.tps,
        contest=c.contest,
        at=received_at,
        payload={
            "page": c.page,
            "version": version,
            "sha256": c.sha256,
            "size": size,
            "content_type": info.content_type,
            "device": c.device_id,
            "device_key": claim.device.public_key.hex(),
            "captured_at": c.captured_at,
            "signature": claim.signature,
        },
    )
    row = {
        "id": str(uuid.uuid4()),
        "tps_code": c.tps,
        "contest": c.contest,
        "page": c.page,
        "version": version,
        "sha256": c.sha256,
        "size": size,
        "content_type": info.content_type,
        "width": info.width,
        "height": info.height,
        "device_id": c.device_id,
        "signature": claim.signature,
        "captured_at": claim.captured_at,
        "received_at": received_at,
        "status": SubmissionStatus.RECEIVED.value,
        "event_id": event.id,
    }
    # Plain inserts, not the ORM unit of work: this is the hot path of every upload.
    await session.execute(insert(Submission).values(row))
    await session.execute(
        insert(OcrJob).values(
            submission_id=row["id"],
            status=JobStatus.QUEUED.value,
            attempts=0,
            run_after=received_at,
            created_at=received_at,
        )
    )
    return Submission(**row)


async def hand_off(
    db: Database,
    store: ObjectStore,
    claim: VerifiedClaim,
    info: PhotoInfo,
    body: bytes | bytearray | memoryview,
) -> Receipt:
    """Store a verified, validated photo and record it; idempotent under retries and races.

    The caller has checked that no submission holds this photo yet; a concurrent twin is
    caught by the unique constraint and answered with the winner's receipt.
    """
    started = time.perf_counter()
    key = photo_key(claim.claim.sha256)
    size = memoryview(body).nbytes
    await store.put(key, body, info.content_type)
    for _ in range(3):  # a concurrent retake can take our version number; try the next one
        try:
            async with db.transaction() as session:
                submission = await _record(session, claim, info, size)
        except IntegrityError:
            if (receipt := await existing_receipt(db, claim)) is not None:
                return receipt  # the same photo, committed by a concurrent request
            continue
        break
    else:
        raise RuntimeError("could not assign a version to the retake after 3 attempts")
    # A failed upload of the same photo may have swept the object between our put and our
    # commit; we still hold the bytes, so put it back before acknowledging.
    if await store.size(key) != size:
        await store.put(key, body, info.content_type)
    HANDOFF_SECONDS.observe(time.perf_counter() - started)
    UPLOADS.labels("created").inc()
    UPLOAD_BYTES.inc(size)
    return receipt_of(submission, duplicate=False)
