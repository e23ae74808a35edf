"""Fixtures shared by the whole suite: real PostgreSQL, SQLite, and an S3 server (moto).

PostgreSQL: each test session creates its own database (`sirekap_t_<pid>`), migrates it once,
and drops it at the end. Tests that need a clean slate truncate with `clean_database`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shared.db.engine import Database, open_database
from shared.db.migrate import upgrade
from standins.s3 import moto_s3
from tests.support.pg_databases import database_url, drop_database, recreate_database

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DOCS = PROJECT_ROOT.parent / "shared"


@pytest.fixture(scope="session")
async def pg_url() -> AsyncIterator[str]:
    """A migrated PostgreSQL database for this test session (a real server, never skipped)."""
    name = f"sirekap_t_{os.getpid()}"
    await recreate_database(name)
    url = database_url(name)
    upgrade(url)
    yield url
    await drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A migrated SQLite database in a fresh folder (the embedded default)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'sirekap.db'}"
    upgrade(url)
    return url


async def clean_database(db: Database) -> None:
    """Empty every table (reference data included), children first."""
    from sqlalchemy import text

    from shared.db.base import Base

    async with db.transaction() as session:
        for table in reversed(Base.metadata.sorted_tables):
            await session.execute(text(f'DELETE FROM "{table.name}"'))


@pytest.fixture
async def pg_db(pg_url: str) -> AsyncIterator[Database]:
    db = open_database(pg_url, pool_size=5)
    await clean_database(db)
    yield db
    await db.dispose()


@pytest.fixture
async def sqlite_db(sqlite_url: str) -> AsyncIterator[Database]:
    db = open_database(sqlite_url)
    yield db
    await db.dispose()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on a loopback port: the same HTTP protocol MinIO speaks."""
    with moto_s3(credentials="test") as endpoint:
        yield endpoint
