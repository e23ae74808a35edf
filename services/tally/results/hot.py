"""The hot read path: one region's totals in one round trip.

Dashboards poll region totals every few seconds, nationally that is the request that must stay
fast. Through SQLAlchemy a read costs four round trips (pool pre-ping, BEGIN, SELECT, COMMIT);
on PostgreSQL this asks an asyncpg pool directly, autocommit, with a statement it prepared once
per connection. SQLite (in-process, no round trips) keeps the ordinary session.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.tally.results import repository
from shared.db.engine import Database

TOTALS_SQL = (
    "SELECT key, SUM(value)::bigint FROM tally_totals WHERE scope = $1 AND contest = $2 "
    "GROUP BY key"
)


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1)


@dataclass
class HotReads:
    db: Database
    pool: asyncpg.Pool | None = None

    @classmethod
    async def open(cls, db: Database, url: str, size: int) -> HotReads:
        if db.is_sqlite:
            return cls(db)
        pool = await asyncpg.create_pool(asyncpg_dsn(url), min_size=1, max_size=size)
        return cls(db, pool)

    async def totals(self, scope: str, contest: str) -> dict[str, int]:
        if self.pool is None:
            async with self.db.reading() as session:
                return await repository.totals_of(session, scope, contest)
        rows = await self.pool.fetch(TOTALS_SQL, scope, contest)
        return {key: int(value) for key, value in rows}

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
