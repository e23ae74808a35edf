"""The OCR job queue is a table: enqueued in the transaction that stores the photo."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, utcnow
from shared.db.tables.events import BigId


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"  # failed too often; kept with its last error for an operator


class OcrJob(Base):
    __tablename__ = "ocr_jobs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    submission_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("submissions.id"), unique=True
    )
    status: Mapped[str] = mapped_column(String(12), default=JobStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    worker: Mapped[str | None] = mapped_column(String(120))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_ocr_jobs_claim", "status", "run_after"),)
