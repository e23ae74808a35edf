"""Reading and tampering with the stored running totals, on either backend.

`tally_totals` keeps one row per (scope, contest, shard) with every key's sum in `vals`; tests
that check or corrupt a single key's total go through these instead of per-backend JSON SQL.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.acceptance import add_sums
from shared.db.tables import TallyTotal


async def stored_sums(session: AsyncSession, contest: str) -> dict[str, dict[str, int]]:
    """{scope: {key: sum over the shards}} of one contest, zero sums left out."""
    rows = await session.execute(
        select(TallyTotal.scope, TallyTotal.vals).where(TallyTotal.contest == contest)
    )
    sums: dict[str, dict[str, int]] = defaultdict(dict)
    for scope, vals in rows.all():
        add_sums(sums[scope], vals)
    return {
        s: {k: v for k, v in keys.items() if v} for s, keys in sums.items() if any(keys.values())
    }


async def change_stored_total(
    session: AsyncSession,
    *,
    scope: str,
    contest: str,
    delta: int,
    key: str | None = None,
    shard: int | None = None,
) -> int:
    """Add `delta` to `key` (every key when None) in the scope's shard rows, bypassing the
    tally's own code, as an attacker with database access would; the rows changed."""
    stmt = select(TallyTotal).where(TallyTotal.scope == scope, TallyTotal.contest == contest)
    if shard is not None:
        stmt = stmt.where(TallyTotal.shard == shard)
    changed = 0
    for row in (await session.execute(stmt)).scalars().all():
        keys = list(row.vals) if key is None else [key] if key in row.vals else []
        if keys:
            row.vals = {**row.vals, **{k: int(row.vals[k]) + delta for k in keys}}
            changed += 1
    await session.flush()
    return changed
