"""Hand-written SQL straight to the driver, for the one path that runs on every upload.

Through SQLAlchemy's async engine a statement costs ~0.3 ms of CPU before the database sees it;
on SQLite it is worse, because aiosqlite moves every cursor call (open, execute, fetch, close)
to its own thread and back, some 30 thread switches per upload. Here:

- **PostgreSQL**: an asyncpg pool of its own, in asyncpg transactions. Not the engine's pool:
  its pre-ping costs three round trips per checkout (BEGIN, `;`, ROLLBACK), and asyncpg's
  default reset on release another. asyncpg notices a connection the server closed (a restart,
  a terminated backend) and replaces it at the next acquire, so no ping is needed; the reset is
  skipped because these statements change no session state and always end their transaction.
- **SQLite**: plain `sqlite3` connections to the same file, configured as the engine's, and
  the *whole* transaction run in one hop to a worker thread. The body is written once, as a
  coroutine over `DirectTx`; on SQLite its awaits never suspend (the statements run inline),
  so the worker thread drives it to the end with a single `send`.

Errors come out as SQLAlchemy's (`IntegrityError`, `OperationalError`, `DBAPIError`), so the
callers' retry on a unique violation and the services' 503 for an unreachable database work as
with the engine. Values are bound as SQLAlchemy binds them (times on SQLite as its text format),
so rows written here read back through the ORM unchanged.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")
_PARAM = re.compile(r"(?<!:):([a-z_][a-z0-9_]*)")


class Statement:
    """One SQL text with `:name` parameters, in each driver's parameter style."""

    __slots__ = ("names", "postgres", "sqlite")

    def __init__(self, sql: str) -> None:
        self.sqlite = sql  # sqlite3 binds :name from a mapping itself
        self.names: list[str] = []
        for name in _PARAM.findall(sql):
            if name not in self.names:
                self.names.append(name)
        self.postgres = _PARAM.sub(lambda m: f"${self.names.index(m.group(1)) + 1}", sql)

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        return [params[name] for name in self.names]


class DirectTx:
    """Statements inside one transaction (or one read). Await only its methods in a body."""

    postgres: bool

    async def fetchone(self, stmt: Statement, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        raise NotImplementedError

    async def execute(self, stmt: Statement, params: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def time(self, moment: datetime) -> Any:
        """A UTC time as this driver stores it (as SQLAlchemy's UTCDateTime binds it)."""
        raise NotImplementedError

    def read_time(self, value: Any) -> datetime:
        raise NotImplementedError


class _PgTx(DirectTx):
    postgres = True

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def fetchone(self, stmt: Statement, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        row = await self.conn.fetchrow(stmt.postgres, *stmt.args(params))
        return None if row is None else tuple(row)

    async def execute(self, stmt: Statement, params: Mapping[str, Any]) -> None:
        await self.conn.execute(stmt.postgres, *stmt.args(params))

    def time(self, moment: datetime) -> Any:
        return moment.astimezone(UTC)

    def read_time(self, value: Any) -> datetime:
        assert isinstance(value, datetime)
        return value.astimezone(UTC)


class _SqliteTx(DirectTx):
    postgres = False

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    async def fetchone(self, stmt: Statement, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        row = self.conn.execute(stmt.sqlite, params).fetchone()
        return None if row is None else tuple(row)

    async def execute(self, stmt: Statement, params: Mapping[str, Any]) -> None:
        self.conn.execute(stmt.sqlite, params)

    def time(self, moment: datetime) -> Any:
        # SQLAlchemy's SQLite DATETIME storage format, in UTC (what UTCDateTime binds).
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    def read_time(self, value: Any) -> datetime:
        return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def _drive(body: Coroutine[Any, Any, T]) -> T:
    """Run a body whose awaits all complete at once (SQLite statements) to its end."""
    try:
        body.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    body.close()
    raise RuntimeError("a direct SQLite body awaited something other than its statements")


def _translate(exc: BaseException) -> BaseException:
    """The driver's exception as the SQLAlchemy one the services handle."""
    if isinstance(exc, sqlite3.IntegrityError | asyncpg.IntegrityConstraintViolationError):
        return IntegrityError("direct statement", None, exc)
    if isinstance(exc, sqlite3.OperationalError | asyncpg.PostgresConnectionError | OSError):
        return OperationalError("direct statement", None, exc)
    if isinstance(exc, sqlite3.DatabaseError | asyncpg.PostgresError | asyncpg.InterfaceError):
        return DBAPIError("direct statement", None, exc)
    return exc


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except (sqlite3.Error, asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        raise _translate(exc) from exc


class _SqliteFile:
    """Plain sqlite3 connections to the engine's file: one writer, idle readers kept for reuse.

    Each connection is used by one thread at a time (its lock is taken inside the thread, so a
    cancelled caller cannot hand it to the next one while its statement still runs)."""

    def __init__(self, path: str, busy_timeout_ms: int) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._writer: sqlite3.Connection | None = None
        self._writer_lock = threading.Lock()
        self._readers: list[sqlite3.Connection] = []
        self._all: list[sqlite3.Connection] = []
        self._closed = False

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout_ms / 1000,
            isolation_level=None,  # transactions are begun and ended explicitly
            check_same_thread=False,  # used from worker threads, one at a time
        )
        conn.execute(f"PRAGMA busy_timeout={self.busy_timeout_ms}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        self._all.append(conn)
        return conn

    def write(self, body: Callable[[DirectTx], Coroutine[Any, Any, T]]) -> T:
        with self._writer_lock:
            if self._writer is None:
                self._writer = self._connect()
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = _drive(body(_SqliteTx(conn)))
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

    def read(self, body: Callable[[DirectTx], Coroutine[Any, Any, T]]) -> T:
        try:
            conn = self._readers.pop()
        except IndexError:
            conn = self._connect()
        try:
            conn.execute("BEGIN")
            try:
                return _drive(body(_SqliteTx(conn)))
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
        finally:
            self._readers.append(conn)

    def close(self) -> None:
        with self._writer_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
            self._readers.clear()
            self._writer = None


async def _keep_session(conn: asyncpg.Connection) -> None:
    """No reset round trip on release: see the module's docstring."""


class DirectSql:
    """Run a body of `DirectTx` statements in one write transaction or one read."""

    def __init__(
        self, engine: AsyncEngine, sqlite_writer: asyncio.Lock, busy_ms: int, pool_size: int
    ) -> None:
        self.engine = engine
        self._sqlite_writer = sqlite_writer  # the Database's: engine and direct writers queue
        self._sqlite: _SqliteFile | None = None
        self._pool: asyncpg.Pool | None = None
        self._pool_size = pool_size
        self._pool_lock = asyncio.Lock()
        if engine.dialect.name == "sqlite":
            path = engine.url.database
            if not path or path == ":memory:":
                raise ValueError("direct SQL needs a SQLite file, not an in-memory database")
            self._sqlite = _SqliteFile(path, busy_ms)

    async def write(self, body: Callable[[DirectTx], Coroutine[Any, Any, T]]) -> T:
        """`body` in one transaction: committed if it returns, rolled back if it raises."""
        if self._sqlite is not None:
            sqlite_file = self._sqlite
            async with self._sqlite_writer:
                with _translated():
                    return await asyncio.to_thread(sqlite_file.write, body)
        with _translated():
            async with self._pg() as conn, conn.transaction():
                return await body(_PgTx(conn))

    @property
    def postgres(self) -> bool:
        return self._sqlite is None

    async def autocommit(self, body: Callable[[DirectTx], Coroutine[Any, Any, T]]) -> T:
        """PostgreSQL only: `body` without a transaction, each statement committed on its own
        (a single statement that must be atomic needs no BEGIN and COMMIT round trips)."""
        if self._sqlite is not None:
            raise RuntimeError("autocommit statements are for PostgreSQL")
        with _translated():
            async with self._pg() as conn:
                return await body(_PgTx(conn))

    async def read(self, body: Callable[[DirectTx], Coroutine[Any, Any, T]]) -> T:
        if self._sqlite is not None:
            with _translated():
                return await asyncio.to_thread(self._sqlite.read, body)
        with _translated():
            async with self._pg() as conn:
                return await body(_PgTx(conn))

    @asynccontextmanager
    async def _pg(self) -> AsyncIterator[asyncpg.Connection]:
        if self._pool is None:
            async with self._pool_lock:
                if self._pool is None:
                    url = self.engine.url.set(drivername="postgresql")
                    self._pool = await asyncpg.create_pool(
                        url.render_as_string(hide_password=False),
                        min_size=0,  # connections are opened as uploads need them
                        max_size=self._pool_size,
                        reset=_keep_session,
                    )
        async with self._pool.acquire() as conn:
            yield conn

    async def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), timeout=5)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                pool.terminate()
