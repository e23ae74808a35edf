"""Append an audit event in the caller's transaction.

Each event's body is the exact RFC 8785 byte string that becomes a log entry. It cites the
previous entry for the same TPS and contest by its SHA-256, so one TPS's history is a short walk
and a gap or a rewrite is visible. The head row per (TPS, contest) is locked while appending, so
two events written for one TPS at the same moment chain one after the other.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.canonical import canonical_json
from shared.db.base import utcnow
from shared.db.direct import DirectTx, Statement
from shared.db.engine import dialect_of
from shared.db.tables.events import AuditEvent, EventHead

ENTRY_VERSION = 1
NO_CONTEST = "-"  # head key for events that belong to a TPS but no contest (device enrolment)
RESERVED_KEYS = frozenset({"v", "kind", "tps", "contest", "prev", "time"})


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds and a `Z`: the one time format of log entries."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def canonical_entry(
    *,
    kind: str,
    tps_code: str | None,
    contest: str | None,
    prev: str | None,
    at: datetime,
    payload: dict[str, Any],
) -> bytes:
    clash = RESERVED_KEYS & payload.keys()
    if clash:
        raise ValueError(f"payload may not set {sorted(clash)}")
    return canonical_json(entry_envelope(kind, tps_code, contest, prev, at, payload))


def entry_envelope(
    kind: str,
    tps_code: str | None,
    contest: str | None,
    prev: str | None,
    at: datetime,
    payload: dict[str, Any],
) -> dict[str, Any]:
    """The entry as a JSON object: the envelope every entry has, then the payload's keys."""
    return {
        "v": ENTRY_VERSION,
        "kind": kind,
        "tps": tps_code,
        "contest": contest,
        "prev": prev,
        "time": format_time(at),
        **payload,
    }


async def _locked_prev(session: AsyncSession, tps_code: str, contest: str) -> str | None:
    """The head's entry hash ("" for a new chain), its row locked until commit.

    On PostgreSQL `FOR UPDATE` serialises writers of one TPS and contest; on SQLite the
    engine's BEGIN IMMEDIATE already serialises every writer.
    """
    stmt = select(EventHead.entry_sha256).where(
        EventHead.tps_code == tps_code, EventHead.contest == contest
    )
    if dialect_of(session) == "postgresql":
        stmt = stmt.with_for_update()
    head = (await session.execute(stmt)).scalar_one_or_none()
    if head is not None:
        return head
    # A new chain: create its head row (a concurrent creator wins harmlessly), then lock it.
    upsert = pg_insert if dialect_of(session) == "postgresql" else sqlite_insert
    await session.execute(
        upsert(EventHead)
        .values(tps_code=tps_code, contest=contest, event_id=0, entry_sha256="")
        .on_conflict_do_nothing()
    )
    return (await session.execute(stmt)).scalar_one()


async def record_event(
    session: AsyncSession,
    *,
    kind: str,
    tps_code: str | None,
    contest: str | None,
    payload: dict[str, Any],
    at: datetime | None = None,
) -> AuditEvent:
    """Write one event; it commits or rolls back with the caller's transaction.

    Plain SQL statements rather than the ORM unit of work: this runs on every upload, reading
    and review, and the flush machinery cost more CPU than the statements themselves.
    The returned object is a detached record of what was written.
    """
    at = at or utcnow()
    head_contest = contest or NO_CONTEST
    prev = await _locked_prev(session, tps_code, head_contest) if tps_code is not None else None
    body = canonical_entry(
        kind=kind, tps_code=tps_code, contest=contest, prev=prev or None, at=at, payload=payload
    )
    entry_sha256 = hashlib.sha256(body).hexdigest()
    event_id = (
        await session.execute(
            insert(AuditEvent)
            .values(
                kind=kind,
                tps_code=tps_code,
                contest=contest,
                body=body,
                entry_sha256=entry_sha256,
                created_at=at,
            )
            .returning(AuditEvent.id)
        )
    ).scalar_one()
    if tps_code is not None:
        await session.execute(
            update(EventHead)
            .where(EventHead.tps_code == tps_code, EventHead.contest == head_contest)
            .values(event_id=event_id, entry_sha256=entry_sha256)
        )
    return AuditEvent(
        id=event_id,
        kind=kind,
        tps_code=tps_code,
        contest=contest,
        body=body,
        entry_sha256=entry_sha256,
        created_at=at,
        log_index=None,
    )


# `record_event` as hand-written SQL for `shared.db.direct`, for the upload path (which composes
# these into its own transaction: one statement on PostgreSQL). The same chain, the same rows.
EVENT_COLUMNS = "(kind, tps_code, contest, body, entry_sha256, created_at)"
EVENT_VALUES = "(:kind, :tps, :contest, :body, :entry_sha256, :at)"
MOVE_HEAD = (
    "UPDATE event_heads SET event_id = {event_id}, entry_sha256 = :entry_sha256 "
    "WHERE tps_code = :tps AND contest = :contest"
)
_NEW_HEAD = Statement(
    "INSERT INTO event_heads (tps_code, contest, event_id, entry_sha256) "
    "VALUES (:tps, :contest, 0, '') ON CONFLICT DO NOTHING"
)


def head_statement(also: str = "") -> Statement:
    """Reads the head's entry hash ("" for a new chain) of (:tps, :contest), and `also` (an SQL
    expression) in the same round trip. Not locked: a writer appends under SQLite's BEGIN
    IMMEDIATE (every writer excluded), or on PostgreSQL moves the head with a compare-and-set
    (`UPDATE … WHERE entry_sha256 = <the hash read>`) in the statement that inserts the event,
    and reads again if another writer moved it first. Either way each event cites the one
    before it exactly once, interleaved correctly with `record_event`'s locking writers."""
    extra = f", {also}" if also else ""
    return Statement(
        f"SELECT h.entry_sha256{extra} FROM event_heads AS h "
        "WHERE h.tps_code = :tps AND h.contest = :contest"
    )


async def read_head_direct(
    tx: DirectTx, statement: Statement, params: dict[str, Any]
) -> tuple[Any, ...]:
    """Run `head_statement(…)`, creating the head row of a new chain first if need be."""
    head = await tx.fetchone(statement, params)
    if head is None:  # a new chain: create its head row (a concurrent creator wins harmlessly)
        await tx.execute(_NEW_HEAD, params)
        head = await tx.fetchone(statement, params)
        assert head is not None
    return head


def event_params(
    tx: DirectTx,
    *,
    kind: str,
    tps_code: str,
    contest: str,
    prev: str | None,
    at: datetime,
    payload: dict[str, Any],
) -> dict[str, Any]:
    """The bound values of `EVENT_VALUES` and `MOVE_HEAD` for one entry citing `prev`."""
    body = canonical_entry(
        kind=kind, tps_code=tps_code, contest=contest, prev=prev, at=at, payload=payload
    )
    return {
        "kind": kind,
        "tps": tps_code,
        "contest": contest,
        "body": body,
        "entry_sha256": hashlib.sha256(body).hexdigest(),
        "at": tx.time(at),
    }
