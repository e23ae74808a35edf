"""Load regions and TPS into the database: one kabupaten for the demo, or the whole country.

Idempotent: rows that exist are left as they are, so a load can be re-run after a failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, TypeVar

from sqlalchemy import Table, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.engine import Database, dialect_of
from shared.db.tables import Region, Tps
from shared.reference.regions import regions_in
from shared.reference.tps import generate_tps

BATCH = 5_000
T = TypeVar("T")

DEMO_KABUPATEN = "17.08"  # Kepahiang, Bengkulu: 8 kecamatan, 117 desa, 526 TPS


@dataclass(frozen=True)
class LoadReport:
    regions: int
    tps: int
    voters: int


def _batches(rows: Iterable[T], size: int) -> Iterable[list[T]]:
    it = iter(rows)
    while batch := list(islice(it, size)):
        yield batch


async def _insert_ignore(
    session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]
) -> None:
    dialect = dialect_of(session)
    stmt: Any
    if dialect == "postgresql":
        stmt = pg_insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite_insert(table).on_conflict_do_nothing()
    else:
        stmt = insert(table)
    await session.execute(stmt, list(rows))


async def load_reference(db: Database, scope: str | None = DEMO_KABUPATEN) -> LoadReport:
    """Load `scope` (a dotted region code, or None for the whole country) with its TPS."""
    regions = list(regions_in(scope))
    region_rows = [
        {"code": r.code, "name": r.name, "level": r.level, "parent_code": r.parent_code}
        for r in regions
    ]
    villages = [r.code for r in regions if r.level == 4]
    n_tps = voters = 0
    async with db.transaction() as session:
        for batch in _batches(region_rows, BATCH):
            await _insert_ignore(session, Region.__table__, batch)  # type: ignore[arg-type]
    for tps_batch in _batches(generate_tps(villages), BATCH):
        async with db.transaction() as session:
            rows = [
                {"code": t.code, "desa_code": t.desa_code, "number": t.number, "dpt": t.dpt}
                for t in tps_batch
            ]
            await _insert_ignore(session, Tps.__table__, rows)  # type: ignore[arg-type]
        n_tps += len(tps_batch)
        voters += sum(t.dpt for t in tps_batch)
    return LoadReport(regions=len(region_rows), tps=n_tps, voters=voters)
