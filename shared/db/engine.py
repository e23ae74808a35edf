"""The async engine and session factories, built by each app's lifespan (never at import).

SQLite (the embedded default) serialises writers; several processes share one file, so every
write transaction starts with BEGIN IMMEDIATE to take the write lock up front instead of failing
with "database is locked" when a read transaction tries to upgrade.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from shared import jsonio
from shared.db.direct import DirectSql
from shared.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _configure_sqlite(engine: AsyncEngine, *, immediate: bool) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str, *, pool_size: int = 10, immediate: bool = True) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            json_serializer=jsonio.dumps,
            json_deserializer=jsonio.loads,
        )
        _configure_sqlite(engine, immediate=immediate)
        return engine
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        json_serializer=jsonio.dumps,  # JSON columns: the tally writes ~5 documents per page
        json_deserializer=jsonio.loads,
    )


@dataclass
class Database:
    """Write and read session factories. On PostgreSQL both use one engine."""

    engine: AsyncEngine
    read_engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    read_sessions: async_sessionmaker[AsyncSession]
    _sqlite_writer: asyncio.Lock = field(default_factory=asyncio.Lock)
    pool_size: int = 10
    _direct: DirectSql | None = None

    @property
    def direct(self) -> DirectSql:
        """Hand-written SQL straight to the driver, for the upload path (`shared.db.direct`);
        on SQLite its writers queue on the same lock as `transaction()`'s."""
        if self._direct is None:
            self._direct = DirectSql(
                self.engine, self._sqlite_writer, SQLITE_BUSY_TIMEOUT_MS, self.pool_size
            )
        return self._direct

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: committed on success, rolled back on any exception.

        On SQLite the writers of this process queue on an asyncio lock before BEGIN IMMEDIATE:
        SQLite admits one writer at a time anyway, and its busy handler makes the others sleep
        in steps of up to 100 ms, which with 32 concurrent uploads cut throughput by two thirds.
        """
        if self.is_sqlite:
            async with self._sqlite_writer, self.sessions() as session, session.begin():
                yield session
            return
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        async with self.read_sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        if self._direct is not None:
            await self._direct.close()
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


def open_database(url: str, *, pool_size: int = 10) -> Database:
    engine = make_engine(url, pool_size=pool_size, immediate=True)
    read_engine = (
        make_engine(url, pool_size=pool_size, immediate=False)
        if url.startswith("sqlite")
        else engine
    )
    return Database(
        engine=engine,
        read_engine=read_engine,
        sessions=async_sessionmaker(engine, expire_on_commit=False),
        read_sessions=async_sessionmaker(read_engine, expire_on_commit=False),
        pool_size=pool_size,
    )


def database_from_settings(settings: Settings) -> Database:
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return open_database(settings.resolved_database_url, pool_size=settings.db_pool_size)


def dialect_of(session: AsyncSession) -> str:
    """`postgresql` or `sqlite`: the few statements that differ (upserts, row locks) ask this."""
    return session.get_bind().dialect.name
