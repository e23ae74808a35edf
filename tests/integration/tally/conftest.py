"""Tally fixtures: a migrated database with Kepahiang's regions and TPS, on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.tally.app import create_app
from services.tally.auth import service
from shared.auth import Role
from shared.db.engine import Database, open_database
from shared.reference.load import load_reference
from shared.settings import Settings
from tests.conftest import clean_database

KEPAHIANG = "17.08"
AUTH_SECRET = "test-secret-" + "x" * 32
PASSWORD = "correct horse battery"


@pytest.fixture(params=["postgres", "sqlite"])
def tally_url(request: pytest.FixtureRequest) -> str:
    """Real PostgreSQL (the session's migrated database) or a fresh migrated SQLite file."""
    url: str = request.getfixturevalue("pg_url" if request.param == "postgres" else "sqlite_url")
    return url


@pytest.fixture
async def tally_db(tally_url: str) -> AsyncIterator[Database]:
    """An empty database with Kepahiang's regions and 526 TPS loaded."""
    db = open_database(tally_url, pool_size=5)
    await clean_database(db)
    await load_reference(db, KEPAHIANG)
    yield db
    await db.dispose()


@pytest.fixture
async def tally_client(
    tally_db: Database, tally_url: str, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """The tally app over ASGI (lifespan run), on the same database as `tally_db`."""
    settings = Settings(
        environment="test",
        database_url=tally_url,
        data_dir=tmp_path,
        auth_secret=AUTH_SECRET,
    )
    app = create_app(settings, run_sequencer=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tally") as client:
            yield client


async def add_official(
    db: Database, username: str, role: Role, region: str, password: str = PASSWORD
) -> None:
    async with db.transaction() as session:
        await service.add_official(
            session, username=username, password=password, role=role, region=region
        )


async def login(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    res = await client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert res.status_code == 200, res.text
    return {"Authorization": f"Bearer {res.json()['token']}"}
