"""Rows the OCR worker needs: a desa, a TPS, a device, submissions with their jobs."""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from shared.db.engine import Database, open_database
from shared.db.tables import Device, OcrJob, Region, Submission, Tps
from shared.storage import LocalObjectStore, photo_key
from tests.conftest import clean_database

TPS_CODE = "1708042001001"
_VERSIONS = itertools.count(1)  # each photo of the page is a new version
DPT = 250


@pytest.fixture(params=["postgresql", "sqlite"])
def db_url(request: pytest.FixtureRequest) -> str:
    """The same tests on PostgreSQL (production) and SQLite (the embedded default)."""
    return str(request.getfixturevalue("pg_url" if request.param == "postgresql" else "sqlite_url"))


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = open_database(db_url, pool_size=5)
    await clean_database(database)
    async with database.transaction() as session:
        session.add(Region(code="17.08.04.2001", name="Desa", level=4, parent_code=None))
        await session.flush()
        session.add(Tps(code=TPS_CODE, desa_code="17.08.04.2001", number=1, dpt=DPT))
        await session.flush()
        session.add(Device(id="dev-1", tps_code=TPS_CODE, public_key=b"k" * 32))
    yield database
    await database.dispose()


async def add_submission(
    db: Database,
    jpeg: bytes,
    *,
    contest: str = "PPWP",
    page: int = 1,
    store: LocalObjectStore | None = None,
) -> str:
    """A stored photo with its queued OCR job; returns the submission id."""
    # Bytes after a JPEG's end marker are ignored by decoders: each call stores a distinct
    # photo (a new sha256) of the same image.
    jpeg = jpeg + uuid.uuid4().bytes
    sha = hashlib.sha256(jpeg).hexdigest()
    if store is not None:
        await store.put(photo_key(sha), jpeg, "image/jpeg")
    sid = str(uuid.uuid4())
    async with db.transaction() as session:
        session.add(
            Submission(
                id=sid,
                tps_code=TPS_CODE,
                contest=contest,
                page=page,
                version=next(_VERSIONS),
                sha256=sha,
                size=len(jpeg),
                content_type="image/jpeg",
                width=1,
                height=1,
                device_id="dev-1",
                signature="sig",
                captured_at=datetime.now(UTC),
                event_id=0,
            )
        )
        await session.flush()
        session.add(OcrJob(submission_id=sid))
    return sid
