"""The ingest app on both real backends: embedded (SQLite + folder) and PostgreSQL + S3."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from clients.kpps.client import Backoff, KppsClient, enroll
from clients.kpps.profile import Profile
from services.ingest.app import create_app
from services.ingest.enrolment import issue_code
from services.ingest.state import IngestState
from shared.db.engine import Database
from shared.reference.load import load_reference
from shared.settings import Settings
from tests.conftest import clean_database

TPS = "1708011007001"  # the first TPS of Kepahiang's demo list
OTHER_TPS = "1708011007002"


@dataclass
class Ingest:
    app: FastAPI
    http: httpx.AsyncClient
    settings: Settings

    @property
    def state(self) -> IngestState:
        state: IngestState = self.app.state.ingest
        return state

    @property
    def db(self) -> Database:
        return self.state.db

    async def code(self, tps: str = TPS) -> str:
        async with self.db.transaction() as session:
            code, _ = await issue_code(session, tps_code=tps, issued_by="test", ttl_s=3600)
        return code

    async def device(self, tps: str = TPS) -> Profile:
        return await enroll(
            "http://ingest", tps, await self.code(tps), transport=self.http._transport
        )

    def client(self, profile: Profile, **kwargs: object) -> KppsClient:
        no_wait = Backoff(attempts=3, sleep=_no_sleep)
        return KppsClient(profile, self.http, backoff=no_wait, **kwargs)  # type: ignore[arg-type]


async def _no_sleep(_: float) -> None:
    return None


def settings_for(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    common = {"data_dir": tmp_path, "auth_secret": "t" * 32, "environment": "test"}
    if backend == "embedded":
        url = request.getfixturevalue("sqlite_url")
        return Settings(database_url=url, storage="local", **common)  # type: ignore[arg-type]
    url = request.getfixturevalue("pg_url")
    endpoint = request.getfixturevalue("s3_endpoint")
    return Settings(
        database_url=url,
        storage="s3",
        s3_endpoint=endpoint,
        s3_access_key="test",
        s3_secret_key="test",
        s3_bucket=f"t{uuid.uuid4().hex[:12]}",
        **common,  # type: ignore[arg-type]
    )


BACKENDS = ["embedded", pytest.param("postgres-s3", marks=[pytest.mark.postgres, pytest.mark.s3])]


@pytest.fixture(params=BACKENDS)
def ingest_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    return settings_for(request.param, tmp_path, request)


@pytest.fixture
async def ingest(ingest_settings: Settings) -> AsyncIterator[Ingest]:
    settings = ingest_settings
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        state: IngestState = app.state.ingest
        if not settings.is_sqlite:
            await clean_database(state.db)
        await load_reference(state.db, "17.08.01")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:
            yield Ingest(app=app, http=http, settings=settings)
