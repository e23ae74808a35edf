"""Machine readings of submitted pages: one row per submission, written by the OCR worker.

`values` is what the reader concluded (field key -> int, or null when it could not read it);
`fields` keeps the evidence per field (confidence, runner-up candidates, per-box symbols and the
object-store keys of the crops shown to a reviewer); `failing` names the fields a person must
look at and why. The reading never changes after it is written: a confirmation or correction is
a new row elsewhere that cites it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, utcnow
from shared.db.tables.events import BigId


class ReadingOutcome(StrEnum):
    AUTO_ACCEPTED = "auto_accepted"  # every rule holds and the confidence cleared the bar
    NEEDS_REVIEW = "needs_review"  # a person must confirm the fields in `failing`
    RETAKE = "retake"  # the photo is unusable (blurred, dark, small, markers not found)
    WRONG_FORM = "wrong_form"  # the photo shows another TPS, contest or page than claimed


class Reading(Base):
    __tablename__ = "readings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # One reading per submission: a re-run after a crash finds the row and does nothing.
    submission_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("submissions.id"), unique=True
    )
    tps_code: Mapped[str] = mapped_column(String(13), index=True)
    contest: Mapped[str] = mapped_column(String(16))
    page: Mapped[int] = mapped_column(SmallInteger)
    # field key -> int, or None when unreadable
    values: Mapped[dict[str, int | None]] = mapped_column(JSON)
    # field key -> {value, confidence, candidates: [[value, prob], ...], boxes: [...], ok}
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    # [{field, rule, reason_en, reason_id}, ...]
    failing: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    outcome: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float] = mapped_column(Float)
    model_sha256: Mapped[str] = mapped_column(String(64))
    reader_version: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
