"""Reference data: Kemendagri regions and the TPS list."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base


class Region(Base):
    """A province (level 1), kabupaten/kota (2), kecamatan (3) or desa/kelurahan (4)."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(13), primary_key=True)  # dotted: 17.08.04.2001
    name: Mapped[str] = mapped_column(String(120))
    level: Mapped[int] = mapped_column(SmallInteger)
    parent_code: Mapped[str | None] = mapped_column(
        String(13), ForeignKey("regions.code"), index=True
    )


class Tps(Base):
    """A polling station. `code` is the 13-digit compact desa code + 3-digit number."""

    __tablename__ = "tps"

    code: Mapped[str] = mapped_column(String(13), primary_key=True)
    desa_code: Mapped[str] = mapped_column(String(13), ForeignKey("regions.code"))
    number: Mapped[int] = mapped_column(SmallInteger)
    dpt: Mapped[int] = mapped_column(SmallInteger)  # voters on the permanent list (≤ 300)

    __table_args__ = (Index("ix_tps_desa_code", "desa_code"),)
