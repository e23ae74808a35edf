"""All SQL that reads the tally: totals per scope (shards summed), per-TPS counted values."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.acceptance import add_sums
from shared.db.tables import TallyTotal, TallyTps


async def totals_of(session: AsyncSession, scope: str, contest: str) -> dict[str, int]:
    stmt = select(TallyTotal.vals).where(TallyTotal.scope == scope, TallyTotal.contest == contest)
    out: dict[str, int] = {}
    for vals in (await session.execute(stmt)).scalars():
        add_sums(out, vals)
    return out


async def totals_of_many(
    session: AsyncSession, scopes: Sequence[str], contest: str
) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(dict)
    if not scopes:
        return out
    stmt = select(TallyTotal.scope, TallyTotal.vals).where(
        TallyTotal.scope.in_(list(scopes)), TallyTotal.contest == contest
    )
    for scope, vals in (await session.execute(stmt)).all():
        add_sums(out[scope], vals)
    return out


def _prefix_range(prefix: str) -> tuple[str, str]:
    """TPS codes starting with `prefix` as a range, so the primary key index serves it."""
    return prefix, prefix + "\uffff" if not prefix else prefix[:-1] + chr(ord(prefix[-1]) + 1)


async def tps_rows(session: AsyncSession, prefix: str, contest: str) -> dict[str, TallyTps]:
    lo, hi = _prefix_range(prefix)
    stmt = select(TallyTps).where(
        TallyTps.contest == contest, TallyTps.tps_code >= lo, TallyTps.tps_code < hi
    )
    return {row.tps_code: row for row in (await session.execute(stmt)).scalars()}


async def tps_row(session: AsyncSession, tps_code: str, contest: str) -> TallyTps | None:
    return await session.get(TallyTps, (tps_code, contest))


async def anomalous_tps(
    session: AsyncSession, prefix: str, contest: str, limit: int
) -> list[dict[str, Any]]:
    lo, hi = _prefix_range(prefix)
    stmt = (
        select(TallyTps.tps_code, TallyTps.anomalies, TallyTps.updated_at)
        .where(
            TallyTps.contest == contest,
            TallyTps.anomaly_count > 0,
            TallyTps.tps_code >= lo,
            TallyTps.tps_code < hi,
        )
        .order_by(TallyTps.tps_code)
        .limit(limit)
    )
    return [
        {"tps": code, "anomalies": anomalies, "updated_at": updated}
        for code, anomalies, updated in (await session.execute(stmt)).all()
    ]
