"""Audit events: written in the same transaction as the state they describe.

`body` holds the exact RFC 8785 bytes of the log entry; they are hashed as they are stored and
never re-serialised. The sequencer later gives each event its `log_index` in the Merkle log.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, utcnow

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for 60M+ rows.
BigId = BigInteger().with_variant(Integer, "sqlite")


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    tps_code: Mapped[str | None] = mapped_column(String(13))
    contest: Mapped[str | None] = mapped_column(String(16))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    entry_sha256: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256(body), hex
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    log_index: Mapped[int | None] = mapped_column(BigInteger, unique=True)

    __table_args__ = (
        Index("ix_audit_events_tps_contest", "tps_code", "contest", "id"),
        # The sequencer scans pending events in id order.
        Index("ix_audit_events_pending", "id", postgresql_where="log_index IS NULL"),
    )


class EventHead(Base):
    """The newest event per (TPS, contest): locked while appending, so each event cites the one
    before it exactly once, even when two are written for the same TPS at the same moment."""

    __tablename__ = "event_heads"

    tps_code: Mapped[str] = mapped_column(String(13), primary_key=True)
    contest: Mapped[str] = mapped_column(String(16), primary_key=True)
    event_id: Mapped[int] = mapped_column(BigId)
    entry_sha256: Mapped[str] = mapped_column(String(64))
