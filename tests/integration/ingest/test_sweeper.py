"""The sweeper on both backends: abandoned uploads and stray chunks go once past the grace;
what an upload in flight still needs stays. (Orphan photos: test_handoff.py.)"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from clients.kpps.client import KppsClient, now_rfc3339
from services.ingest import sweeper
from services.ingest.sweeper import SweepReport, sweep, sweep_every
from shared.db.base import utcnow
from shared.db.migrate import upgrade
from shared.db.tables import UploadSession
from shared.settings import get_settings
from shared.signing import UploadClaim, sign
from shared.storage import photo_key, upload_chunk_key
from sirekap.commands.ingest import app as ingest_cli
from tests.integration.ingest.conftest import TPS, Ingest
from tests.support.photos import make_jpeg, sha256

TUS = {"Tus-Resumable": "1.0.0"}
HOUR = timedelta(hours=1)
NOW = timedelta(seconds=-1)  # a grace that has always passed


async def _half_upload(ingest: Ingest, seed: int) -> str:
    """A tus upload with its first half stored; returns its id."""
    profile = await ingest.device()
    photo = make_jpeg(seed)
    claim = UploadClaim(profile.device_id, TPS, "PPWP", 1, sha256(photo), now_rfc3339())
    metadata = KppsClient(profile, ingest.http)._metadata(
        claim, sign(profile.key(), claim.signed_bytes())
    )
    created = await ingest.http.post(
        "/v1/tus", headers={**TUS, "Upload-Length": str(len(photo)), "Upload-Metadata": metadata}
    )
    assert created.status_code == 201, created.text
    patched = await ingest.http.patch(
        created.headers["Location"],
        content=photo[: len(photo) // 2],
        headers={**TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
    )
    assert patched.status_code == 204, patched.text
    return str(created.headers["Location"]).rsplit("/", 1)[-1]


async def _expire(ingest: Ingest, upload_id: str, ago: timedelta) -> None:
    async with ingest.db.transaction() as session:
        await session.execute(
            update(UploadSession)
            .where(UploadSession.id == upload_id)
            .values(expires_at=utcnow() - ago)
        )


async def _uploads(ingest: Ingest) -> int:
    async with ingest.db.reading() as session:
        return await session.scalar(select(func.count()).select_from(UploadSession)) or 0


async def test_an_abandoned_upload_goes_only_once_expired_past_the_grace(ingest: Ingest) -> None:
    store = ingest.state.store
    live, recent, abandoned = [await _half_upload(ingest, 90 + i) for i in range(3)]
    await _expire(ingest, recent, timedelta(minutes=30))  # a PATCH may still be writing
    await _expire(ingest, abandoned, 2 * HOUR)
    assert len(await store.list("uploads/")) == 3

    report = await sweep(ingest.db, store, grace=HOUR, orphan_photos=False)

    assert report == SweepReport(
        abandoned_uploads=1, finished_uploads=0, stray_chunks=0, orphan_photos=None
    )
    assert await _uploads(ingest) == 2
    left = await store.list("uploads/")
    assert {key.split("/")[1] for key in left} == {live, recent}
    # The swept upload is unknown to its client now, and the next pass finds nothing.
    gone = await ingest.http.head(f"/v1/tus/{abandoned}", headers=TUS)
    assert gone.status_code == 404, gone.text
    assert (await sweep(ingest.db, store, grace=HOUR, orphan_photos=False)).abandoned_uploads == 0


async def test_stray_chunks_go_and_the_chunks_an_upload_lists_stay(ingest: Ingest) -> None:
    store = ingest.state.store
    upload = await _half_upload(ingest, 95)
    (listed,) = await store.list(f"uploads/{upload}/")
    # A PATCH whose database update failed, and a chunk of an upload that no longer exists.
    stray = f"{upload_chunk_key(upload, 4096)}-deadbeef"
    lost = f"{upload_chunk_key('no-such-upload', 0)}-cafebabe"
    for key in (stray, lost):
        await store.put(key, b"bytes", "application/octet-stream")

    assert (await sweep(ingest.db, store, grace=HOUR, orphan_photos=False)).stray_chunks == 0
    report = await sweep(ingest.db, store, grace=NOW, orphan_photos=False)

    assert report.stray_chunks == 2
    assert await store.list("uploads/") == [listed]


async def test_a_finished_uploads_leftover_chunks_go(ingest: Ingest) -> None:
    client = ingest.client(await ingest.device())
    photo = make_jpeg(97)
    receipt = await client.upload(photo, contest="PPWP", page=1)
    async with ingest.db.reading() as session:
        (upload_id,) = (await session.execute(select(UploadSession.id))).scalars()
    # As if the replica stopped between the upload's commit and deleting its chunks.
    leftover = f"{upload_chunk_key(upload_id, 0)}-0badf00d"
    await ingest.state.store.put(leftover, photo, "application/octet-stream")

    report = await sweep(ingest.db, ingest.state.store, grace=NOW)

    assert (report.stray_chunks, report.orphan_photos) == (1, 0)
    assert await ingest.state.store.list("uploads/") == []
    assert await ingest.state.store.get(photo_key(receipt["sha256"])) == photo


async def test_a_finished_upload_is_forgotten_after_its_week_and_a_retry_gets_its_receipt(
    ingest: Ingest,
) -> None:
    client = ingest.client(await ingest.device())
    photo = make_jpeg(98)
    receipt = await client.upload(photo, contest="PPWP", page=1)
    async with ingest.db.reading() as session:
        (upload_id,) = (await session.execute(select(UploadSession.id))).scalars()
    await _expire(ingest, upload_id, 2 * HOUR)

    report = await sweep(ingest.db, ingest.state.store, grace=HOUR)

    assert (report.abandoned_uploads, report.finished_uploads, report.orphan_photos) == (0, 1, 0)
    assert await _uploads(ingest) == 0
    assert await ingest.state.store.get(photo_key(receipt["sha256"])) == photo
    again = await client.upload(photo, contest="PPWP", page=1)
    assert again["submission_id"] == receipt["submission_id"]


async def test_a_repeating_sweeper_lists_the_photos_on_its_first_pass_then_as_often_as_told(
    ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    passes: list[bool] = []
    real_sweep = sweeper.sweep

    async def counted(*args: object, orphan_photos: bool = True, **kwargs: object) -> SweepReport:
        passes.append(orphan_photos)
        if len(passes) == 2:
            raise ConnectionError("the database is restarting")  # logged; the next pass runs
        if len(passes) == 4:
            stop.set()
        return await real_sweep(*args, orphan_photos=orphan_photos, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sweeper, "sweep", counted)
    stop = asyncio.Event()
    await asyncio.wait_for(
        sweep_every(
            ingest.db,
            ingest.state.store,
            every=timedelta(milliseconds=10),
            photos_every=HOUR,
            stop=stop,
        ),
        timeout=30,
    )
    assert passes == [True, False, False, False]


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SIREKAP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SIREKAP_DATABASE_URL", "")
    monkeypatch.setenv("SIREKAP_STORAGE", "local")
    get_settings.cache_clear()
    upgrade(get_settings().resolved_database_url)
    yield tmp_path
    get_settings.cache_clear()


def test_sirekap_ingest_sweep_runs_one_pass_and_reports_it(embedded: Path) -> None:
    result = CliRunner().invoke(ingest_cli, ["sweep"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.splitlines()[-1])
    assert report == {
        "abandoned_uploads": 0,
        "finished_uploads": 0,
        "stray_chunks": 0,
        "orphan_photos": 0,
    }
