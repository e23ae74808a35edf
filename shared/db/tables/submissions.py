"""Photos received from KPPS devices, and resumable uploads still in progress."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, utcnow


class SubmissionStatus(StrEnum):
    RECEIVED = "received"
    READING = "reading"
    READ = "read"
    NEEDS_REVIEW = "needs_review"
    ACCEPTED = "accepted"
    RETAKE = "retake"  # the reader could not use the photo; the KPPS must photograph it again


class Submission(Base):
    """One stored photo of one page. A retake of a page is a new row with a higher version."""

    __tablename__ = "submissions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tps_code: Mapped[str] = mapped_column(String(13), ForeignKey("tps.code"))
    contest: Mapped[str] = mapped_column(String(16))
    page: Mapped[int] = mapped_column(SmallInteger)
    version: Mapped[int] = mapped_column(SmallInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)  # after EXIF orientation
    height: Mapped[int] = mapped_column(Integer)
    device_id: Mapped[str] = mapped_column(String(36), ForeignKey("devices.id"))
    signature: Mapped[str] = mapped_column(String(100))  # base64 Ed25519 over the claim
    captured_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default=SubmissionStatus.RECEIVED)
    status_reason: Mapped[str | None] = mapped_column(String(500))
    event_id: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        UniqueConstraint("tps_code", "contest", "page", "sha256"),
        UniqueConstraint("tps_code", "contest", "page", "version"),
        Index("ix_submissions_status", "status"),
    )


class UploadSession(Base):
    """A tus upload: the signed claim is checked at creation; bytes arrive in chunks.

    The chunks live in the object store (not in a replica's memory or disk), so a PATCH may
    land on any ingest replica and continue where the last one stopped.
    """

    __tablename__ = "upload_sessions"
    __table_args__ = (Index("ix_upload_sessions_expires_at", "expires_at"),)  # the sweeper's

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(36), ForeignKey("devices.id"))
    tps_code: Mapped[str] = mapped_column(String(13))
    contest: Mapped[str] = mapped_column(String(16))
    page: Mapped[int] = mapped_column(SmallInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    captured_at: Mapped[datetime]
    captured_at_raw: Mapped[str] = mapped_column(String(40))  # exactly as the device signed it
    signature: Mapped[str] = mapped_column(String(100))
    length: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    # Keys of the stored chunks, in order. Each key carries a random suffix, so two replicas
    # racing on the same offset never overwrite each other's bytes; only the winner is recorded.
    chunk_keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    content_type: Mapped[str | None] = mapped_column(String(32))  # known from the first chunk
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    submission_id: Mapped[str | None] = mapped_column(String(36))
