"""The tally: accepted page values (append-only), what counts per TPS, and running totals.

- `acceptances` is the history: every auto-acceptance, confirmation and correction is a new row
  that is never updated. Per (TPS, contest, page) the acceptance with the highest
  (submission version, id) counts, so a late auto-acceptance of an older photo cannot displace
  a retake.
- `tally_tps` is one row per (TPS, contest): which acceptance counts for each page and the merged
  counted values. Its row is the lock that serialises acceptances of one TPS and contest.
- `tally_totals` holds the running sums per scope (a region code or a dapil code) and contest,
  one row with every field key's sum in `vals` (an accepted page moves one row per scope, not one
  per key). Busy scopes (nation, province, kabupaten, dapil) are split into `SHARDS` rows so
  concurrent acceptances do not all queue on one row lock; readers sum the shards.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, utcnow
from shared.db.tables.events import BigId

# JSONB on PostgreSQL: recompute expands it with jsonb_each and it is stored decomposed.
Json = JSON().with_variant(JSONB(), "postgresql")

TPS_KEY = "_tps"  # the count of TPS with at least one counted page, kept beside the field sums


class Acceptance(Base):
    __tablename__ = "acceptances"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tps_code: Mapped[str] = mapped_column(String(13))
    contest: Mapped[str] = mapped_column(String(16))
    page: Mapped[int] = mapped_column(SmallInteger)
    # 1, 2, … per (TPS, contest, page): the version a reviewer saw and must name to change it.
    revision: Mapped[int] = mapped_column(Integer)
    submission_id: Mapped[str] = mapped_column(String(36), index=True)
    submission_version: Mapped[int] = mapped_column(SmallInteger)
    reading_id: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(12))  # auto | confirmed | corrected
    values: Mapped[dict[str, int]] = mapped_column(Json)
    supersedes: Mapped[int | None] = mapped_column(BigInteger)  # acceptance counted before
    counted: Mapped[bool]  # whether it became the counted version when written
    actor: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str | None] = mapped_column(String(500))
    event_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("tps_code", "contest", "page", "revision"),)


class TallyTps(Base):
    __tablename__ = "tally_tps"

    tps_code: Mapped[str] = mapped_column(String(13), primary_key=True)
    contest: Mapped[str] = mapped_column(String(16), primary_key=True)
    # {"<page>": {"acceptance_id", "submission_id", "submission_version", "revision", "source",
    #             "values"}}; revision counts every acceptance of the page, counted or not.
    pages: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    values: Mapped[dict[str, int]] = mapped_column(Json, default=dict)  # counted, all pages
    anomalies: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    anomaly_count: Mapped[int] = mapped_column(SmallInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    # Only the anomalous rows are indexed (the anomaly list's query): an ordinary acceptance
    # does not write to it, and its row update can stay on its page (fillfactor 70, 0007).
    __table_args__ = (
        Index(
            "ix_tally_tps_anomalous",
            "contest",
            "tps_code",
            postgresql_where=text("anomaly_count > 0"),
            sqlite_where=text("anomaly_count > 0"),
        ),
    )


class TallyTotal(Base):
    __tablename__ = "tally_totals"

    scope: Mapped[str] = mapped_column(String(24), primary_key=True)  # "00", "17.08", "DPR-17-1"
    contest: Mapped[str] = mapped_column(String(16), primary_key=True)
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    vals: Mapped[dict[str, int]] = mapped_column(Json)  # {field key: sum}


class Dispute(Base):
    """A KPPS disputing its own TPS's page as it stands (signed by its device).

    Open until an acceptance of the page with a higher revision is written: an official looked
    at it again. Disputes are never updated; whether one is open is derived.
    """

    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tps_code: Mapped[str] = mapped_column(String(13))
    contest: Mapped[str] = mapped_column(String(16))
    page: Mapped[int] = mapped_column(SmallInteger)
    revision: Mapped[int] = mapped_column(Integer)  # the page revision disputed
    submission_id: Mapped[str] = mapped_column(String(36))
    device_id: Mapped[str] = mapped_column(String(36))
    fields: Mapped[list[str]] = mapped_column(Json)
    reason: Mapped[str] = mapped_column(String(500))
    event_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # One dispute per device and page revision: a replayed request changes nothing.
    __table_args__ = (UniqueConstraint("tps_code", "contest", "page", "revision", "device_id"),)
