"""The stand-in backends that benchmarks and `sirekap simulate` run on really work: the settings
`standins.backend_env` gives open the project's own database and object store."""

from __future__ import annotations

import asyncio
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import text

from shared.db.engine import database_from_settings
from shared.settings import Settings
from shared.storage import open_store
from standins.backend import backend_env
from standins.postgres import drop_database

SETTING = {
    "SIREKAP_DATABASE_URL": "database_url",
    "SIREKAP_STORAGE": "storage",
    "SIREKAP_S3_ENDPOINT": "s3_endpoint",
    "SIREKAP_S3_ACCESS_KEY": "s3_access_key",
    "SIREKAP_S3_SECRET_KEY": "s3_secret_key",
    "SIREKAP_S3_BUCKET": "s3_bucket",
}


async def _round_trip(settings: Settings) -> tuple[int, bytes]:
    db = database_from_settings(settings)
    store = await open_store(settings)
    try:
        async with db.reading() as session:
            one = int(await session.scalar(text("SELECT 1")) or 0)
        await store.put("probe/object", b"bytes", "application/octet-stream")
        return one, await store.get("probe/object")
    finally:
        await store.close()
        await db.dispose()


@pytest.mark.parametrize("backend", ["embedded", "postgres-s3"])
def test_each_backend_opens_the_projects_database_and_store(backend: str, tmp_path: Path) -> None:
    name = "sirekap_test_standins"
    with ExitStack() as stack:
        env = backend_env(backend, tmp_path, stack, name=name)
        settings = Settings(
            data_dir=tmp_path,
            **{SETTING[k]: v for k, v in env.items()},  # type: ignore[arg-type]
        )
        assert asyncio.run(_round_trip(settings)) == (1, b"bytes")
    if backend == "embedded":
        assert (tmp_path / "sirekap.db").exists()
    else:
        asyncio.run(drop_database(name))


def test_an_unknown_backend_is_refused(tmp_path: Path) -> None:
    with ExitStack() as stack, pytest.raises(ValueError, match="not one of"):
        backend_env("mysql", tmp_path, stack, name="x")
