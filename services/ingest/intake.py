"""The atomic hand-off: photo object, submission row, OCR job and audit event, all or nothing.

The object is written first (content-addressed, so writing it twice is harmless), then one
transaction records the submission, enqueues its OCR job and appends its audit event. If that
transaction fails the object may be left without a row; `sweeper.sweep_orphan_photos` removes
such objects once they are older than any upload in flight. An acknowledged upload therefore
always has its object, its row, its job and its event.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.claims import VerifiedClaim, check_claim
from services.ingest.photo_check import PhotoInfo
from services.ingest.sweeper import GRACE
from shared.db.base import utcnow
from shared.db.direct import DirectTx, Statement
from shared.db.engine import Database
from shared.db.tables import Device, JobStatus, Submission, SubmissionStatus
from shared.events import (
    EVENT_COLUMNS,
    EVENT_VALUES,
    MOVE_HEAD,
    event_params,
    format_time,
    head_statement,
    read_head_direct,
)
from shared.metrics import HANDOFF_SECONDS, UPLOAD_BYTES, UPLOADS
from shared.settings import Settings
from shared.signing import UploadClaim
from shared.storage import ObjectStore, photo_key

PHOTO_EVENT = "photo"
# A hand-off slower than this re-checks its object even when its put created it.
RECHECK_AFTER_S = GRACE.total_seconds() / 2


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


# The hot path's SQL, straight to the driver (`shared.db.direct`): every upload runs it, and
# through the ORM (or even Core on the async engine) the machinery around each statement cost
# more CPU than the statement.
# The device and any submission of this very photo, in one round trip.
_CLAIM_LOOKUP = Statement(
    "SELECT d.tps_code, d.public_key, d.revoked_at, s.id, s.version, s.received_at, s.event_id "
    "FROM devices AS d LEFT OUTER JOIN submissions AS s ON s.tps_code = :tps "
    "AND s.contest = :contest AND s.page = :page AND s.sha256 = :sha256 "
    "WHERE d.id = :device"
)
# The chain's head and the page's latest version, in one round trip.
_HEAD_AND_LATEST = head_statement(
    "(SELECT max(s.version) FROM submissions AS s "
    "WHERE s.tps_code = :tps AND s.contest = :contest AND s.page = :page)"
)
_SUBMISSION = (
    "INSERT INTO submissions (id, tps_code, contest, page, version, sha256, size, "
    "content_type, width, height, device_id, signature, captured_at, received_at, status, "
    "event_id) VALUES (:id, :tps, :contest, :page, :version, :sha256, :size, :content_type, "
    ":width, :height, :device, :signature, :captured_at, :at, :status, {event_id})"
)
_JOB = (
    "INSERT INTO ocr_jobs (submission_id, status, attempts, run_after, created_at) "
    "VALUES (:id, :job_status, 0, :at, :at)"
)
# SQLite: four statements, run in one hop to the database's thread.
_INSERT_EVENT = Statement(
    f"INSERT INTO audit_events {EVENT_COLUMNS} VALUES {EVENT_VALUES} RETURNING id"
)
_MOVE_HEAD = Statement(MOVE_HEAD.format(event_id=":event_id"))
_INSERT_SUBMISSION = Statement(_SUBMISSION.format(event_id=":event_id"))
_INSERT_JOB = Statement(_JOB)
# PostgreSQL: no transaction, two round trips. The head and latest version are read unlocked;
# then one statement moves the head *only if it is still the one read* (compare and set, under
# the row's lock) and, only if it did, inserts the event (its id drawn for the head), the
# submission and the OCR job. A statement is atomic: all of it or none. If another writer
# moved the head in between, nothing is written and the hand-off reads the head again, so each
# event still cites the one before it exactly once. The job's foreign key is checked at the
# end of the statement, when the submission is there. Values in the SELECT lists are cast:
# PostgreSQL would otherwise type the parameters there as text.
_RECORD_PG = Statement(
    "WITH hd AS (UPDATE event_heads "
    "SET event_id = nextval(pg_get_serial_sequence('audit_events', 'id')), "
    "entry_sha256 = :entry_sha256 "
    "WHERE tps_code = :tps AND contest = :contest AND entry_sha256 = :prev "
    "RETURNING event_id), "
    f"ev AS (INSERT INTO audit_events (id, {EVENT_COLUMNS[1:]} "
    "SELECT event_id, :kind::varchar, :tps::varchar, :contest::varchar, :body::bytea, "
    ":entry_sha256::varchar, :at::timestamptz FROM hd RETURNING id), "
    "sub AS (INSERT INTO submissions (id, tps_code, contest, page, version, sha256, size, "
    "content_type, width, height, device_id, signature, captured_at, received_at, status, "
    "event_id) SELECT :id::varchar, :tps::varchar, :contest::varchar, :page::smallint, "
    ":version::smallint, :sha256::varchar, :size::bigint, :content_type::varchar, "
    ":width::integer, :height::integer, :device::varchar, :signature::varchar, "
    ":captured_at::timestamptz, :at::timestamptz, :status::varchar, ev.id FROM ev "
    "RETURNING id), "
    "job AS (INSERT INTO ocr_jobs (submission_id, status, attempts, run_after, created_at) "
    "SELECT sub.id, :job_status::varchar, 0, :at::timestamptz, :at::timestamptz FROM sub) "
    "SELECT id FROM ev"
)
# Written at most this many times over by other writers of the same TPS and contest.
MAX_HEAD_MOVES = 50


async def verify_upload(
    db: Database, claim: UploadClaim, signature: str | None, settings: Settings
) -> tuple[VerifiedClaim, Receipt | None]:
    """`verify_claim` and `find_existing` in one statement: the checked claim, and the receipt
    of this very photo if it was received already (a retry)."""

    async def lookup(tx: DirectTx) -> tuple[tuple[Any, ...] | None, datetime | None]:
        params = {
            "device": claim.device_id,
            "tps": claim.tps,
            "contest": claim.contest,
            "page": claim.page,
            "sha256": claim.sha256,
        }
        row = await tx.fetchone(_CLAIM_LOOKUP, params)
        received = None if row is None or row[5] is None else tx.read_time(row[5])
        return row, received

    row, received_at = await db.direct.read(lookup)
    device = None
    if row is not None:
        device = Device(id=claim.device_id, tps_code=row[0], public_key=row[1], revoked_at=row[2])
    verified = check_claim(claim, signature, device, settings)
    if row is None or row[3] is None or received_at is None:
        return verified, None
    receipt = Receipt(
        submission_id=row[3],
        sha256=claim.sha256,
        tps=claim.tps,
        contest=claim.contest,
        page=claim.page,
        version=row[4],
        received_at=received_at,
        event_id=row[6],
        duplicate=True,
    )
    return verified, receipt


async def _record(tx: DirectTx, claim: VerifiedClaim, info: PhotoInfo, size: int) -> Receipt | None:
    """The hand-off's writes: event (chained to its TPS's head), submission, OCR job. On SQLite
    in one transaction; on PostgreSQL as described at `_RECORD_PG`, None if the head moved."""
    c = claim.claim
    params: dict[str, Any] = {"tps": c.tps, "contest": c.contest, "page": c.page}
    head = await read_head_direct(tx, _HEAD_AND_LATEST, params)
    version = (head[1] or 0) + 1
    received_at = utcnow()
    params |= event_params(
        tx,
        kind=PHOTO_EVENT,
        tps_code=c.tps,
        contest=c.contest,
        prev=head[0] or None,
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
    submission_id = str(uuid.uuid4())
    params |= {
        "id": submission_id,
        "version": version,
        "sha256": c.sha256,
        "size": size,
        "content_type": info.content_type,
        "width": info.width,
        "height": info.height,
        "device": c.device_id,
        "signature": claim.signature,
        "captured_at": tx.time(claim.captured_at),
        "status": SubmissionStatus.RECEIVED.value,
        "job_status": JobStatus.QUEUED.value,
    }
    if tx.postgres:
        params["prev"] = head[0]  # "" for a new chain's head row
        row = await tx.fetchone(_RECORD_PG, params)
        if row is None:
            return None  # another writer moved the head: nothing was written
    else:
        row = await tx.fetchone(_INSERT_EVENT, params)
        assert row is not None
        params["event_id"] = row[0]
        await tx.execute(_MOVE_HEAD, params)
        await tx.execute(_INSERT_SUBMISSION, params)
        await tx.execute(_INSERT_JOB, params)
    assert row is not None
    return Receipt(
        submission_id=submission_id,
        sha256=c.sha256,
        tps=c.tps,
        contest=c.contest,
        page=c.page,
        version=version,
        received_at=received_at,
        event_id=int(row[0]),
        duplicate=False,
    )


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
    created = await store.put_new(key, body, info.content_type, sha256=claim.claim.sha256)
    run = db.direct.autocommit if db.direct.postgres else db.direct.write
    conflicts = moves = 0
    while True:
        try:
            receipt = await run(lambda tx: _record(tx, claim, info, size))
        except IntegrityError:
            if (existing := await existing_receipt(db, claim)) is not None:
                return existing  # the same photo, committed by a concurrent request
            conflicts += 1  # a concurrent retake took our version number; try the next one
            if conflicts == 3:
                raise RuntimeError(
                    "could not assign a version to the retake after 3 attempts"
                ) from None
            continue
        if receipt is not None:
            break
        moves += 1
        if moves == MAX_HEAD_MOVES:
            raise RuntimeError(f"the audit chain's head moved {moves} times during one hand-off")
    # A failed upload of the same photo may have left the object as an orphan, which a sweep
    # may remove between our put and our commit; we still hold the bytes, so check and put it
    # back before acknowledging. The sweeper only removes objects older than its GRACE, so
    # an object our own put created cannot be taken while the hand-off is younger than that:
    # the check (one more request to the store) is needed only when the object was there
    # before our put, or the backend cannot tell (see `ObjectStore.put_new`).
    recheck = not created or time.perf_counter() - started > RECHECK_AFTER_S
    if recheck and await store.size(key) != size:
        await store.put(key, body, info.content_type)
    HANDOFF_SECONDS.observe(time.perf_counter() - started)
    UPLOADS.labels("created").inc()
    UPLOAD_BYTES.inc(size)
    return receipt
