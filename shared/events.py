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

import rfc8785
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.base import utcnow
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
    entry = {
        "v": ENTRY_VERSION,
        "kind": kind,
        "tps": tps_code,
        "contest": contest,
        "prev": prev,
        "time": format_time(at),
        **payload,
    }
    return rfc8785.dumps(entry)


async def _lock_head(session: AsyncSession, tps_code: str, contest: str) -> EventHead | None:
    stmt = select(EventHead).where(EventHead.tps_code == tps_code, EventHead.contest == contest)
    if dialect_of(session) == "postgresql":
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def record_event(
    session: AsyncSession,
    *,
    kind: str,
    tps_code: str | None,
    contest: str | None,
    payload: dict[str, Any],
    at: datetime | None = None,
) -> AuditEvent:
    """Write one event; it commits or rolls back with the caller's transaction."""
    at = at or utcnow()
    head: EventHead | None = None
    head_contest = contest or NO_CONTEST
    if tps_code is not None:
        dialect = dialect_of(session)
        if dialect == "postgresql":
            # Make sure the head row exists, so FOR UPDATE has a row to lock.
            await session.execute(
                pg_insert(EventHead)
                .values(tps_code=tps_code, contest=head_contest, event_id=0, entry_sha256="")
                .on_conflict_do_nothing()
            )
        else:
            await session.execute(
                sqlite_insert(EventHead)
                .values(tps_code=tps_code, contest=head_contest, event_id=0, entry_sha256="")
                .on_conflict_do_nothing()
            )
        head = await _lock_head(session, tps_code, head_contest)
    prev = head.entry_sha256 if head is not None and head.entry_sha256 else None
    body = canonical_entry(
        kind=kind, tps_code=tps_code, contest=contest, prev=prev, at=at, payload=payload
    )
    event = AuditEvent(
        kind=kind,
        tps_code=tps_code,
        contest=contest,
        body=body,
        entry_sha256=hashlib.sha256(body).hexdigest(),
        created_at=at,
    )
    session.add(event)
    await session.flush()
    if head is not None:
        head.event_id = event.id
        head.entry_sha256 = event.entry_sha256
    return event
