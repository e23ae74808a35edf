"""The incremental path: acceptances, retakes and corrections move every ancestor's totals."""

from __future__ import annotations

import asyncio
import json
import random

import pytest
from sqlalchemy import select, text

from services.tally.results import repository
from services.tally.results.recompute import recompute
from shared.acceptance import (
    SHARD_LOCK_CLASS,
    SHARDS,
    PageAcceptance,
    accept_page,
    accept_pages,
)
from shared.db.engine import Database, open_database
from shared.db.tables import Acceptance, AuditEvent, EventHead, TallyTotal
from shared.errors import Unprocessable
from shared.reference.load import load_reference
from tests.conftest import clean_database
from tests.integration.tally.seed import accept, ppwp_votes, submit

TPS_A = "1708042001001"
TPS_B = "1708042001002"


async def totals(db: Database, scope: str, contest: str = "PPWP") -> dict[str, int]:
    async with db.reading() as session:
        return await repository.totals_of(session, scope, contest)


async def test_accept_adds_to_every_ancestor(tally_db: Database) -> None:
    sid, _ = await submit(tally_db, TPS_A, "PPWP", 2)
    await accept(tally_db, sid, ppwp_votes(10, 20, 30))
    for scope in ["00", "17", "17.08", "17.08.04", "17.08.04.2001"]:
        t = await totals(tally_db, scope)
        assert (t["100025"], t["100026"], t["100027"], t["_tps"]) == (10, 20, 30, 1)
    assert await totals(tally_db, "17.08.01") == {}


async def test_retake_replaces_and_older_version_does_not_count(tally_db: Database) -> None:
    first, _ = await submit(tally_db, TPS_A, "PPWP", 2)
    retake, _ = await submit(tally_db, TPS_A, "PPWP", 2)
    await accept(tally_db, retake, ppwp_votes(5, 6, 7))
    # The OCR of the first photo finishes late: recorded, but the retake keeps counting.
    await accept(tally_db, first, ppwp_votes(50, 60, 70))
    t = await totals(tally_db, "17.08")
    assert (t["100025"], t["suara_sah"], t["_tps"]) == (5, 18, 1)
    async with tally_db.reading() as session:
        rows = (await session.execute(select(Acceptance).order_by(Acceptance.id))).scalars().all()
    assert [(r.revision, r.counted) for r in rows] == [(1, True), (2, False)]
    assert (await recompute(tally_db)).equal


async def test_correction_moves_totals_by_the_difference(tally_db: Database) -> None:
    sid, _ = await submit(tally_db, TPS_A, "PPWP", 2)
    await accept(tally_db, sid, ppwp_votes(10, 20, 30))
    await accept(
        tally_db, sid, ppwp_votes(12, 20, 30), source="corrected", reason="digit 0 was a 2"
    )
    t = await totals(tally_db, "00")
    assert (t["100025"], t["suara_sah"], t["_tps"]) == (12, 62, 1)
    async with tally_db.reading() as session:
        kinds = (await session.execute(select(AuditEvent.kind))).scalars().all()
    assert kinds.count("acceptance") == 1 and kinds.count("correction") == 1


async def test_auto_acceptance_of_inconsistent_values_is_refused(tally_db: Database) -> None:
    sid, _ = await submit(tally_db, TPS_A, "PPWP", 2)
    bad = {**ppwp_votes(62, 20, 30), "100025": 562}  # the 2024 X-read-as-5 failure
    with pytest.raises(Unprocessable):
        await accept(tally_db, sid, bad)
    with pytest.raises(Unprocessable):
        await accept(tally_db, sid, bad, source="corrected", reason="")
    await accept(tally_db, sid, bad, source="confirmed", reason="form really says so")
    async with tally_db.reading() as session:
        flagged = await repository.anomalous_tps(session, "1708", "PPWP", 10)
    assert [a["tps"] for a in flagged] == [TPS_A]


async def test_concurrent_acceptances_in_one_village_both_count(tally_db: Database) -> None:
    subs = [await submit(tally_db, t, "PPWP", 2) for t in (TPS_A, TPS_B)]

    async def go(sid: str, tps: str, n: int) -> None:
        async with tally_db.transaction() as session:
            await accept_page(
                session,
                submission_id=sid,
                tps_code=tps,
                contest="PPWP",
                page=2,
                values=ppwp_votes(n, 0, 0),
                source="auto",
                reading_id=None,
                actor="ocr",
                reason=None,
            )

    await asyncio.gather(go(subs[0][0], TPS_A, 3), go(subs[1][0], TPS_B, 4))
    t = await totals(tally_db, "17.08.04.2001")
    assert (t["100025"], t["_tps"]) == (7, 2)
    assert (await recompute(tally_db)).equal


async def test_dapil_totals_follow_the_tps(tally_db: Database) -> None:
    sid, _ = await submit(tally_db, TPS_A, "DPD", 2)
    values = {f"dpd_{n:02d}": 1 for n in range(1, 6)}
    values.update({"suara_sah": 5, "suara_tidak_sah": 1, "suara_total": 6})
    await accept(tally_db, sid, values)
    assert (await totals(tally_db, "DPD-17", "DPD"))["dpd_03"] == 1
    report = await recompute(tally_db)
    assert report.equal and report.scopes == 6


async def test_no_reason_publishes_a_number_the_form_cannot_hold(tally_db: Database) -> None:
    sid, _ = await submit(tally_db, TPS_A, "PPWP", 2)
    huge = {**ppwp_votes(62, 20, 10), "100025": 1000}  # four digits in three boxes
    with pytest.raises(Unprocessable, match="boxes"):
        await accept(tally_db, sid, huge, source="corrected", reason="trust me")
    await accept(tally_db, sid, {**huge, "100025": 999}, source="corrected", reason="as written")


async def test_overlapping_concurrent_batches_stay_exact(tally_db: Database) -> None:
    """Batches and single acceptances of the same TPS racing each other (the TPS rows are read
    under the event-head lock, not locked themselves): the totals equal the recount and each
    TPS's events form one unbroken chain."""
    tps = [f"170804200100{n}" for n in range(1, 6)] + [f"170804200200{n}" for n in range(1, 4)]
    versions = {t: [(await submit(tally_db, t, "PPWP", 2))[0] for _ in range(3)] for t in tps}
    rng = random.Random(5)
    work = [(t, v, sid) for t in tps for v, sid in enumerate(versions[t])]

    async def batch(chunk: list[tuple[str, int, str]], n: int) -> None:
        items = [
            PageAcceptance(sid, t, "PPWP", 2, ppwp_votes(n + v, v, 1), actor=f"w{n}")
            for t, v, sid in chunk
        ]
        async with tally_db.transaction() as session:
            if len(items) == 1:
                it = items[0]
                await accept_page(
                    session,
                    submission_id=it.submission_id,
                    tps_code=it.tps_code,
                    contest="PPWP",
                    page=2,
                    values=it.values,
                    source="auto",
                    reading_id=None,
                    actor=it.actor,
                    reason=None,
                )
            else:
                await accept_pages(session, items)

    chunks = [rng.sample(work, rng.randint(1, 8)) for _ in range(24)]
    await asyncio.gather(*(batch(c, n) for n, c in enumerate(chunks)))
    assert (await recompute(tally_db)).equal
    t = await totals(tally_db, "17.08.04")
    assert t["_tps"] == len({w[0] for c in chunks for w in c})
    async with tally_db.reading() as session:
        events = (
            await session.execute(
                select(AuditEvent.tps_code, AuditEvent.body, AuditEvent.entry_sha256)
                .where(AuditEvent.kind == "acceptance")
                .order_by(AuditEvent.id)
            )
        ).all()
        heads = dict(
            (await session.execute(select(EventHead.tps_code, EventHead.entry_sha256))).all()
        )
    by_sha = {e.entry_sha256: e for e in events}
    for code in {e.tps_code for e in events}:
        mine = [e for e in events if e.tps_code == code]
        # Walk back from the head: every acceptance of the TPS is on the one chain.
        seen, sha = 0, heads[code]
        while sha in by_sha:
            seen += 1
            sha = json.loads(by_sha[sha].body)["prev"]
        assert seen == len(mine)


async def test_every_shard_taken_falls_back_to_the_tps_shard(pg_url: str) -> None:
    """More concurrent transactions than shards: the next one writes the TPS's own shard."""
    db = open_database(pg_url, pool_size=2)
    try:
        await clean_database(db)
        await load_reference(db, "17.08")
        sid, _ = await submit(db, TPS_A, "PPWP", 2)
        async with db.transaction() as holder:
            await holder.execute(
                text("SELECT pg_advisory_xact_lock(:c, g) FROM generate_series(0, :top) g"),
                {"c": SHARD_LOCK_CLASS, "top": SHARDS - 1},
            )
            await accept(db, sid, ppwp_votes(1, 2, 3))
        async with db.reading() as session:
            shards = set(
                (
                    await session.execute(
                        select(TallyTotal.shard).where(TallyTotal.scope.in_(["00", "17"]))
                    )
                ).scalars()
            )
        assert shards == {int(TPS_A) % SHARDS}
        assert (await recompute(db)).equal
    finally:
        await db.dispose()
