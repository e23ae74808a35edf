"""Nothing acknowledged is lost: the check every fault scenario ends with.

Once the OCR workers and the log sequencer have caught up, every photo acknowledged to a client
(every receipt it was given) must have:

- its object in the store, re-hashing to the receipt's SHA-256;
- its submission row, with that SHA-256;
- its audit event (kind "photo"), sequenced into the log (a `log_index`), and, when the caller
  gives the log's verifier, inside the newest signed checkpoint: the signature verifies and an
  inclusion proof puts the entry under the checkpoint's root;
- exactly one reading, whose own event is sequenced (and included) too;
- when that reading was accepted automatically, exactly one automatic acceptance;
- on its page, once any acceptance of it exists, exactly one counted result: the newest
  acceptance (highest submission version, then id) is the one `tally_tps` counts, with its
  values.

`benchmarks.faults` runs the services as processes and waits for them (`wait_until_settled`);
the fault tests drain the queue and the log in-process first (`tests.support.nothing_lost`).
Both then call `find_losses`. The running totals are checked against a recount by the callers
(`services.tally.results.recompute`), which this module, below the services, does not import.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from shared.audit import store as log_store
from shared.audit.checkpoint import Checkpoint
from shared.audit.merkle import ProofError, leaf_hash, verify_inclusion
from shared.audit.note import NoteError, Verifier, open_note
from shared.db.engine import Database
from shared.db.tables import Acceptance, AuditEvent, OcrJob, Reading, Submission, TallyTps
from shared.db.tables.jobs import JobStatus
from shared.storage import ObjectStore, StorageError, photo_key


@dataclass(frozen=True)
class Acknowledged:
    """What a receipt promised: this submission, this photo, this audit event."""

    submission_id: str
    sha256: str
    event_id: int

    @classmethod
    def of(cls, receipt: Mapping[str, Any]) -> Acknowledged:
        return cls(str(receipt["submission_id"]), str(receipt["sha256"]), int(receipt["event_id"]))


@dataclass(frozen=True)
class Loss:
    submission_id: str
    what: str

    def __str__(self) -> str:
        return f"{self.submission_id}: {self.what}"


async def pending_work(db: Database) -> tuple[int, int]:
    """(OCR jobs queued or running, audit events not yet sequenced)."""
    async with db.reading() as session:
        jobs = await session.scalar(
            select(func.count())
            .select_from(OcrJob)
            .where(OcrJob.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]))
        )
        events = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.log_index.is_(None))
        )
    return int(jobs or 0), int(events or 0)


async def wait_until_settled(db: Database, *, timeout_s: float = 600, poll_s: float = 2) -> bool:
    """Wait for running workers and a running sequencer to empty the queue and the backlog."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await pending_work(db) == (0, 0):
            return True
        await asyncio.sleep(poll_s)
    return False


class _Checkpoint:
    """The newest signed checkpoint, verified, and inclusion proofs against it."""

    def __init__(self, size: int, root: bytes) -> None:
        self.size = size
        self.root = root

    @classmethod
    async def newest(cls, db: Database, verifier: Verifier) -> _Checkpoint | str:
        async with db.reading() as session:
            stored = await log_store.latest_checkpoint(session)
        if stored is None:
            return "no signed checkpoint"
        try:
            note = open_note(stored.note, [verifier])
            checkpoint = Checkpoint.parse(note.text)
        except NoteError as exc:
            return f"the newest checkpoint does not verify: {exc}"
        return cls(checkpoint.size, checkpoint.root)

    async def includes(self, db: Database, event: AuditEvent) -> bool:
        if event.log_index is None or event.log_index >= self.size:
            return False
        async with db.reading() as session:
            proof = await log_store.inclusion_proof(session, event.log_index, self.size)
        try:
            verify_inclusion(
                event.log_index, self.size, leaf_hash(bytes(event.body)), proof, self.root
            )
        except ProofError:
            return False
        return True


async def _check_event(
    db: Database, event: AuditEvent | None, name: str, checkpoint: _Checkpoint | None
) -> str | None:
    if event is None:
        return f"no {name} event"
    if event.log_index is None:
        return f"{name} event {event.id} not sequenced into the log"
    if checkpoint is not None and not await checkpoint.includes(db, event):
        return f"{name} event {event.id} (index {event.log_index}) not in the signed checkpoint"
    return None


async def _check_photo(
    db: Database,
    store: ObjectStore,
    ack: Acknowledged,
    *,
    readings: bool,
    checkpoint: _Checkpoint | None,
) -> list[str]:
    problems: list[str] = []
    try:
        data = await store.get(photo_key(ack.sha256))
    except StorageError as exc:
        problems.append(f"object missing: {type(exc).__name__}: {exc}")
    else:
        if hashlib.sha256(data).hexdigest() != ack.sha256:
            problems.append("object does not re-hash to its SHA-256")
    async with db.reading() as session:
        submission = await session.get(Submission, ack.submission_id)
        photo_event = await session.get(AuditEvent, ack.event_id)
        found = (
            (
                await session.execute(
                    select(Reading).where(Reading.submission_id == ack.submission_id)
                )
            )
            .scalars()
            .all()
        )
        reading_event = await session.get(AuditEvent, found[0].event_id) if found else None
        autos = await session.scalar(
            select(func.count())
            .select_from(Acceptance)
            .where(Acceptance.submission_id == ack.submission_id, Acceptance.source == "auto")
        )
    if submission is None:
        problems.append("no submission row")
    elif (submission.sha256, submission.event_id) != (ack.sha256, ack.event_id):
        problems.append("the submission row is not the acknowledged photo")
    if photo_event is not None and photo_event.kind != "photo":
        photo_event = None
    if (problem := await _check_event(db, photo_event, "photo", checkpoint)) is not None:
        problems.append(problem)
    if not readings:
        return problems
    if len(found) != 1:
        problems.append(f"{len(found)} readings, not 1")
        return problems
    if (problem := await _check_event(db, reading_event, "reading", checkpoint)) is not None:
        problems.append(problem)
    if found[0].outcome == "auto_accepted" and autos != 1:
        problems.append(f"read as auto_accepted, but {autos} automatic acceptances")
    return problems


async def _check_pages(db: Database, submission_ids: Sequence[str]) -> list[Loss]:
    """Per page of these submissions: if anything was accepted, the newest acceptance counts."""
    losses: list[Loss] = []
    async with db.reading() as session:
        pages = (
            await session.execute(
                select(
                    Submission.id, Submission.tps_code, Submission.contest, Submission.page
                ).where(Submission.id.in_(list(submission_ids)))
            )
        ).all()
        by_page: dict[tuple[str, str, int], str] = {(t, c, p): sid for sid, t, c, p in pages}
        for (tps, contest, page), sid in sorted(by_page.items()):
            newest = (
                await session.execute(
                    select(Acceptance)
                    .where(
                        Acceptance.tps_code == tps,
                        Acceptance.contest == contest,
                        Acceptance.page == page,
                    )
                    .order_by(Acceptance.submission_version.desc(), Acceptance.id.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
            row = await session.get(TallyTps, (tps, contest))
            counted = (row.pages if row is not None else {}).get(str(page))
            where = f"page {tps}/{contest}/{page}"
            if newest is None:
                if counted is not None:
                    losses.append(Loss(sid, f"{where} counted without any acceptance"))
                continue
            if counted is None:
                losses.append(Loss(sid, f"{where} accepted (#{newest.id}) but not counted"))
            elif int(counted["acceptance_id"]) != newest.id or counted["values"] != newest.values:
                losses.append(
                    Loss(sid, f"{where} counts #{counted['acceptance_id']}, not #{newest.id}")
                )
    return losses


async def find_losses(
    db: Database,
    store: ObjectStore,
    receipts: Iterable[Mapping[str, Any]],
    *,
    readings: bool = True,
    log_verifier: Verifier | None = None,
) -> list[Loss]:
    """Everything missing for the acknowledged photos (an empty list when nothing is lost).

    `readings`: each photo must have been read (False while no OCR worker ran).
    `log_verifier`: also require each event inside the newest checkpoint signed by that key.
    """
    acknowledged = {a.submission_id: a for a in map(Acknowledged.of, receipts)}
    checkpoint: _Checkpoint | None = None
    if log_verifier is not None:
        newest = await _Checkpoint.newest(db, log_verifier)
        if isinstance(newest, str):
            return [Loss(sid, newest) for sid in acknowledged]
        checkpoint = newest
    losses: list[Loss] = []
    for ack in acknowledged.values():
        problems = await _check_photo(db, store, ack, readings=readings, checkpoint=checkpoint)
        losses.extend(Loss(ack.submission_id, p) for p in problems)
    losses.extend(await _check_pages(db, list(acknowledged)))
    return losses
