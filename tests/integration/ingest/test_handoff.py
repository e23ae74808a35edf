"""The atomic hand-off: races, a failing transaction, and the sweeper that cleans after it."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest import intake, sweeper
from services.ingest.sweeper import sweep
from shared.db.tables import AuditEvent, EventHead, OcrJob, Submission
from shared.storage import photo_key
from tests.integration.ingest.conftest import Ingest
from tests.support.photos import make_jpeg, sha256


async def test_the_same_photo_from_two_connections_at_once_is_one_submission(
    ingest: Ingest,
) -> None:
    client = ingest.client(await ingest.device())
    photo = make_jpeg(31)
    receipts = await asyncio.gather(
        *(client.upload_single(photo, contest="PPWP", page=1) for _ in range(4))
    )
    assert len({r["submission_id"] for r in receipts}) == 1
    async with ingest.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Submission)) == 1
        assert await session.scalar(select(func.count()).select_from(OcrJob)) == 1


async def test_concurrent_retakes_get_distinct_versions(ingest: Ingest) -> None:
    client = ingest.client(await ingest.device())
    receipts = await asyncio.gather(
        *(client.upload_single(make_jpeg(40 + i), contest="PPWP", page=1) for i in range(3))
    )
    assert sorted(r["version"] for r in receipts) == [1, 2, 3]


async def test_a_failed_transaction_leaves_no_row_and_the_sweeper_removes_the_object(
    ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = ingest.client(await ingest.device())
    photo = make_jpeg(32)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database went away mid-transaction")

    monkeypatch.setattr(intake, "_record", broken)
    with pytest.raises(RuntimeError):
        await client.upload_single(photo, contest="PPWP", page=1)
    monkeypatch.undo()
    async with ingest.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Submission)) == 0
        assert (
            await session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.kind == "photo")
            )
            == 0
        )
    key = photo_key(sha256(photo))
    assert await ingest.state.store.size(key) == len(photo)  # the orphan, until swept
    report = await sweep(ingest.db, ingest.state.store, grace=timedelta(hours=1))
    assert report.orphan_photos == 0  # too young: its upload might still be committing
    report = await sweep(ingest.db, ingest.state.store, grace=timedelta(seconds=-1))
    assert report.orphan_photos == 1
    assert await ingest.state.store.size(key) is None
    # The retry after the failure succeeds and keeps its object.
    receipt = await client.upload_single(photo, contest="PPWP", page=1)
    await sweep(ingest.db, ingest.state.store, grace=timedelta(seconds=-1))
    assert await ingest.state.store.get(key) == photo
    assert receipt["duplicate"] is False


async def test_the_sweeper_checks_photos_in_batches_across_folders(
    ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Orphans in several fan-out folders go, referenced photos stay, whatever the batching."""
    monkeypatch.setattr(sweeper, "LOOKUP_BATCH", 2)
    client = ingest.client(await ingest.device())
    kept = [make_jpeg(70 + i) for i in range(3)]
    for page, photo in enumerate(kept, start=1):
        await client.upload_single(photo, contest="PPWP", page=1 + page % 2)
    orphans = [make_jpeg(80 + i) for i in range(5)]
    for photo in orphans:
        await ingest.state.store.put(photo_key(sha256(photo)), photo, "image/jpeg")
    assert len({sha256(p)[:2] for p in kept + orphans}) > 3  # several folders
    report = await sweep(ingest.db, ingest.state.store, grace=timedelta(seconds=-1))
    assert report.orphan_photos == len(orphans)
    for photo in orphans:
        assert await ingest.state.store.size(photo_key(sha256(photo))) is None
    for photo in kept:
        assert await ingest.state.store.get(photo_key(sha256(photo))) == photo


async def _ppwp_events(session: AsyncSession) -> list[AuditEvent]:
    """The PPWP audit events, oldest first."""
    query = select(AuditEvent).where(AuditEvent.contest == "PPWP").order_by(AuditEvent.id)
    return list((await session.execute(query)).scalars().all())


async def test_events_for_one_tps_chain_to_each_other(ingest: Ingest) -> None:
    client = ingest.client(await ingest.device())
    for page in (1, 2):
        await client.upload_single(make_jpeg(50 + page), contest="PPWP", page=page)
    async with ingest.db.reading() as session:
        events = await _ppwp_events(session)
    first, second = (json.loads(e.body) for e in events)
    assert first["prev"] is None
    assert second["prev"] == events[0].entry_sha256


async def test_concurrent_uploads_of_one_tps_keep_one_unbroken_chain(ingest: Ingest) -> None:
    """Writers of one TPS and contest race for its chain head (on PostgreSQL the hand-off moves
    it with a compare-and-set and reads it again when it lost): every event must cite the one
    before it exactly once, and the head must be the last."""
    client = ingest.client(await ingest.device())
    photos = [(make_jpeg(60 + i), 1 + i % 2) for i in range(8)]  # pages 1–2, retakes of each
    receipts = await asyncio.gather(
        *(client.upload_single(photo, contest="PPWP", page=page) for photo, page in photos)
    )
    assert sorted((r["page"], r["version"]) for r in receipts) == [
        (p, v) for p in (1, 2) for v in (1, 2, 3, 4)
    ]
    async with ingest.db.reading() as session:
        events = await _ppwp_events(session)
        head = await session.get(EventHead, (events[0].tps_code, "PPWP"))
    assert len(events) == 8
    prev = None
    for event in events:
        assert json.loads(event.body)["prev"] == prev
        prev = event.entry_sha256
    assert head is not None and (head.event_id, head.entry_sha256) == (events[-1].id, prev)
    assert {r["event_id"] for r in receipts} == {e.id for e in events}
