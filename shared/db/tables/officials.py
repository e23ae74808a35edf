"""PPS, PPK and KPU officials who sign in to review and correct readings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, utcnow


class OfficialAccount(Base):
    __tablename__ = "officials"

    username: Mapped[str] = mapped_column(String(120), primary_key=True)
    # "scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>": parameters travel with the hash so they can be
    # raised later without invalidating existing accounts.
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    region: Mapped[str] = mapped_column(String(13))  # dotted; "00" for national roles
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]
