"""The migrations build exactly the schema the models declare, on both backends: a column, an
index or a constraint added to one and not the other is caught here, not in production."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

import shared.db.tables  # noqa: F401  (registers every table on Base.metadata)
from shared.db.base import Base
from shared.db.migrate import upgrade_async
from tests.support.pg_databases import database_url, drop_database, recreate_database


@pytest.fixture(params=["sqlite", "postgresql"])
async def migrated(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}"
        await upgrade_async(url)
        yield url
        return
    name = f"sirekap_t_schema_{os.getpid()}"
    await recreate_database(name)
    url = database_url(name)
    await upgrade_async(url)
    yield url
    await drop_database(name)


async def _differences(url: str) -> list[Any]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await engine.dispose()


async def test_the_migrated_schema_is_the_models_schema(migrated: str) -> None:
    assert await _differences(migrated) == []
