"""Migration 0006 carries every running total over, on both backends, and back again.

The per-key rows of revision 0005 become one row per (scope, contest, shard) with the same
sums; the incremental path then adds to them exactly; a downgrade gives the per-key rows back.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from shared.acceptance import apply_totals
from shared.db.engine import open_database
from shared.db.migrate import alembic_config, upgrade
from tests.support.pg_databases import database_url, drop_database, recreate_database
from tests.support.totals import stored_sums

PER_KEY_ROWS = [  # scope, contest, key, shard, value (revision 0005's layout)
    ("00", "PPWP", "100025", 3, 40),
    ("00", "PPWP", "100025", 7, 2),
    ("00", "PPWP", "_tps", 3, 5),
    ("17.08", "PPWP", "suara_sah", 0, 77),
    ("17.08", "PPWP", "suara_tidak_sah", 0, 0),
    ("DPD-17", "DPD", "pengguna_total_j", 0, 123456789012),
]


@pytest.fixture(params=["sqlite", "postgresql"])
async def url_at_0005(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        upgrade(url, "0005")
        yield url
        return
    name = f"sirekap_t_mig_{os.getpid()}"
    await recreate_database(name)
    url = database_url(name)
    upgrade(url, "0005")
    yield url
    await drop_database(name)


async def test_totals_carried_over_added_to_and_given_back(url_at_0005: str) -> None:
    db = open_database(url_at_0005)
    try:
        async with db.transaction() as session:
            await session.execute(
                text(
                    "INSERT INTO tally_totals (scope, contest, key, shard, value) "
                    "VALUES (:s, :c, :k, :sh, :v)"
                ),
                [{"s": s, "c": c, "k": k, "sh": sh, "v": v} for s, c, k, sh, v in PER_KEY_ROWS],
            )
        await db.dispose()
        upgrade(url_at_0005, "0006")
        db = open_database(url_at_0005)
        async with db.transaction() as session:
            assert await stored_sums(session, "PPWP") == {
                "00": {"100025": 42, "_tps": 5},
                "17.08": {"suara_sah": 77},
            }
            assert await stored_sums(session, "DPD") == {
                "DPD-17": {"pengguna_total_j": 123456789012}
            }
            # The incremental path adds into the carried-over rows, key by key.
            await apply_totals(
                session,
                [
                    ("00", "PPWP", 3, {"100025": -1, "100026": 9}),
                    ("17.08", "PPWP", 0, {"suara_tidak_sah": 4}),
                ],
            )
        async with db.transaction() as session:
            assert await stored_sums(session, "PPWP") == {
                "00": {"100025": 41, "100026": 9, "_tps": 5},
                "17.08": {"suara_sah": 77, "suara_tidak_sah": 4},
            }
        await db.dispose()
        await asyncio.to_thread(command.downgrade, alembic_config(url_at_0005), "0005")
        db = open_database(url_at_0005)
        async with db.transaction() as session:
            rows = await session.execute(
                text("SELECT scope, contest, key, shard, value FROM tally_totals")
            )
            back = {(s, c, k, sh): int(v) for s, c, k, sh, v in rows.all()}
        assert back[("00", "PPWP", "100025", 3)] == 39
        assert back[("00", "PPWP", "100025", 7)] == 2
        assert back[("00", "PPWP", "100026", 3)] == 9
        assert back[("DPD-17", "DPD", "pengguna_total_j", 0)] == 123456789012
    finally:
        await db.dispose()
