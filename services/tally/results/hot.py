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
from shared.acceptance import add_sums
from shared.db.engine import Database
from shared.errors import ServiceUnavailable
from shared.web import RETRY_AFTER_S

TOTALS_SQL = "SELECT vals FROM tally_totals WHERE scope = $1 AND contest = $2"


# The database restarting, failing over or dropping the connection, as the raw pool reports it
# (SQLAlchemy's wrappers of these are answered 503 by `shared.web`; these would be a 500).
UNAVAILABLE = (
    asyncpg.PostgresConnectionError,  # class 08: the connection is gone or cannot be made
    asyncpg.CannotConnectNowError,  # 57P03: starting up or shutting down
    asyncpg.AdminShutdownError,  # 57P01: terminated by a (fast) shutdown
    asyncpg.CrashShutdownError,  # 57P02
    asyncpg.TooManyConnectionsError,  # 53300
    asyncpg.InterfaceError,  # "connection is closed"
    asyncpg.InternalClientError,  # a connection killed mid-query, found when reset for reuse
    OSError,  # refused, reset, timed out
)


class StatelessConnection(asyncpg.Connection):  # type: ignore[misc]
    """A connection of the hot pool, which only ever runs one autocommit SELECT.

    asyncpg resets a connection returned to its pool with a query (unlock advisory locks,
    close cursors, UNLISTEN, RESET ALL): a second round trip per region-total request, for
    session state this pool never creates."""

    def get_reset_query(self) -> str:
        return ""


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
        pool = await asyncpg.create_pool(
            asyncpg_dsn(url), min_size=1, max_size=size, connection_class=StatelessConnection
        )
        return cls(db, pool)

    async def totals(self, scope: str, contest: str) -> dict[str, int]:
        if self.pool is None:
            async with self.db.reading() as session:
                return await repository.totals_of(session, scope, contest)
        try:
            rows = await self.pool.fetch(TOTALS_SQL, scope, contest)
        except UNAVAILABLE as exc:
            raise ServiceUnavailable(
                f"the database is unavailable: {exc}", headers={"Retry-After": RETRY_AFTER_S}
            ) from exc
        out: dict[str, int] = {}
        for (vals,) in rows:  # one row per shard; asyncpg hands jsonb over as text
            add_sums(out, vals)
        return out

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
