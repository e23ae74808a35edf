"""KPPS devices and the one-time codes that enrol them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, utcnow


class EnrolmentCode(Base):
    """A one-time code an official issues for one TPS; only its hash is stored."""

    __tablename__ = "enrolment_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    tps_code: Mapped[str] = mapped_column(String(13), ForeignKey("tps.code"), index=True)
    issued_by: Mapped[str] = mapped_column(String(120))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    device_id: Mapped[str | None] = mapped_column(String(36))


class Device(Base):
    """An enrolled Ed25519 public key, bound to exactly one TPS."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tps_code: Mapped[str] = mapped_column(String(13), ForeignKey("tps.code"), index=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    label: Mapped[str] = mapped_column(String(120), default="")
    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(120))
