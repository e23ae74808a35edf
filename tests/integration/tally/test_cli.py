"""`sirekap tally recompute|officials add|export` against a SQLite data folder."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shared.db.engine import open_database
from shared.db.migrate import upgrade
from shared.reference.load import load_reference
from shared.settings import get_settings
from sirekap.commands.tally import app
from tests.integration.tally.seed import accept, ppwp_votes, submit
from tests.support.totals import change_stored_total


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("SIREKAP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SIREKAP_DATABASE_URL", "")
    get_settings.cache_clear()
    url = get_settings().resolved_database_url
    upgrade(url)

    async def seed() -> None:
        db = open_database(url)
        try:
            await load_reference(db, "17.08")
            sid, _ = await submit(db, "1708042001001", "PPWP", 2)
            await accept(db, sid, ppwp_votes(7, 8, 9))
        finally:
            await db.dispose()

    asyncio.run(seed())
    yield url
    get_settings.cache_clear()


def _tamper(url: str) -> None:
    async def go() -> None:
        db = open_database(url)
        try:
            async with db.transaction() as session:
                await change_stored_total(session, scope="17.08", contest="PPWP", delta=1)
        finally:
            await db.dispose()

    asyncio.run(go())


def test_recompute_proves_equal_detects_tampering_and_repairs(data_dir: str) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["recompute"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output.splitlines()[-1])["equal"] is True
    _tamper(data_dir)
    bad = runner.invoke(app, ["recompute"])
    assert bad.exit_code == 1
    assert "MISMATCH 17.08 PPWP 100025: recount 7 stored 8" in bad.output
    assert runner.invoke(app, ["recompute", "--repair"]).exit_code == 0
    assert runner.invoke(app, ["recompute"]).exit_code == 0


def test_officials_add_and_export(data_dir: str, tmp_path: Path) -> None:
    runner = CliRunner()
    added = runner.invoke(
        app,
        ["officials", "add", "ppk-kepahiang", "--role", "PPK", "--region", "17.08.04",
         "--password", "a long password"],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    wrong_level = runner.invoke(
        app, ["officials", "add", "x", "--role", "PPS", "--region", "17.08", "--password", "p" * 12]
    )
    assert wrong_level.exit_code != 0
    out = tmp_path / "export.jsonl"
    assert runner.invoke(app, ["export", "--format", "jsonl", "-o", str(out)]).exit_code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["tps"], r["values"]["100027"]) for r in rows] == [("1708042001001", 9)]
