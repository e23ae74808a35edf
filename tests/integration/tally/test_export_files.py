"""The bulk export is written once a minute per format and contest and shared by every
download in that minute; a failed export leaves nothing behind."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from services.tally.export import files, stream
from services.tally.export.files import ExportFiles
from services.tally.export.stream import Format
from shared.db.engine import Database
from tests.integration.tally.seed import accept, ppwp_votes, submit

TPS_A, TPS_B = "1708042001001", "1708042001002"


async def _counted(tps: str, votes: int, db: Database) -> None:
    sid, _ = await submit(db, tps, "PPWP", 2)
    await accept(db, sid, ppwp_votes(votes, 0, 0))


def _exports_written(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Format, str | None]]:
    """Every export written from the database from now on, by (format, contest)."""
    written: list[tuple[Format, str | None]] = []
    real = stream.export_lines

    def counting(db: Database, fmt: Format, contest: str | None) -> AsyncIterator[str]:
        written.append((fmt, contest))
        return real(db, fmt, contest)

    monkeypatch.setattr(files, "export_lines", counting)
    return written


async def test_downloads_in_the_same_minute_share_one_export(
    tally_db: Database, tally_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _counted(TPS_A, 3, tally_db)
    written = _exports_written(monkeypatch)
    url = "/api/v1/export/results.jsonl"
    downloads = await asyncio.gather(
        *(tally_client.get(url, params={"contest": "PPWP"}) for _ in range(4))
    )
    assert written == [("jsonl", "PPWP")]
    bodies = {d.content for d in downloads}
    assert len(bodies) == 1
    (body,) = bodies
    assert [json.loads(line)["tps"] for line in body.decode().splitlines()] == [TPS_A]
    assert all(int(d.headers["content-length"]) == len(body) for d in downloads)
    assert downloads[0].headers["cache-control"] == "public, max-age=60"
    await tally_client.get("/api/v1/export/results.csv")  # another format: its own export
    assert written == [("jsonl", "PPWP"), ("csv", None)]


async def test_an_export_is_written_anew_once_it_is_a_minute_old(tally_db: Database) -> None:
    now = [0.0]
    exports = ExportFiles(tally_db, max_age_s=60, clock=lambda: now[0])
    try:
        await _counted(TPS_A, 3, tally_db)

        async def tps_exported() -> list[str]:
            with await exports.open("jsonl", "PPWP") as file:
                return [json.loads(line)["tps"] for line in file.read().decode().splitlines()]

        held = await exports.open("jsonl", "PPWP")  # a slow download of the first file
        assert await tps_exported() == [TPS_A]
        await _counted(TPS_B, 4, tally_db)
        now[0] = 59.0
        assert await tps_exported() == [TPS_A]  # within the minute: the same file
        now[0] = 60.0
        assert await tps_exported() == [TPS_A, TPS_B]
        assert len(list(exports.folder.iterdir())) == 1  # the older file is unlinked...
        assert held.read().decode().count("\n") == 1  # ...and still whole for its reader
        held.close()
    finally:
        exports.close()
    assert not exports.folder.exists()


async def test_a_failed_export_leaves_no_file(
    tally_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(db: Database, fmt: Format, contest: str | None) -> AsyncIterator[str]:
        yield "first line\n"
        raise ConnectionError("the database went away")

    monkeypatch.setattr(files, "export_lines", broken)
    exports = ExportFiles(tally_db)
    try:
        with pytest.raises(ConnectionError):
            await exports.open("csv", None)
        assert list(exports.folder.iterdir()) == []
    finally:
        exports.close()


async def test_a_request_that_says_no_cache_gets_the_export_as_it_is_now(
    tally_db: Database, tally_client: httpx.AsyncClient
) -> None:
    url = "/api/v1/export/results.jsonl"

    async def exported(headers: dict[str, str] | None = None) -> list[str]:
        body = (await tally_client.get(url, headers=headers)).text
        return [json.loads(line)["tps"] for line in body.splitlines()]

    await _counted(TPS_A, 3, tally_db)
    assert await exported() == [TPS_A]
    await _counted(TPS_B, 4, tally_db)
    assert await exported() == [TPS_A]  # within the minute
    assert await exported({"Cache-Control": "no-cache"}) == [TPS_A, TPS_B]
    assert await exported() == [TPS_A, TPS_B]  # the newer file serves the rest of the minute
