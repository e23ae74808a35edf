"""Property: for any history of retakes, late acceptances, confirmations, corrections and
disputes, made one by one or in batches, the log-only recount (`LogRecount`) equals the tally's
running totals, the genuine history raises no citation finding, and nothing the tally app
publishes differs from the recount (no false alarm)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import tempfile
import uuid
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from clients.auditor.client import LogClient
from clients.auditor.findings import Report
from clients.auditor.recount_log import LogRecount
from services.tally.app import create_app
from services.tally.review.kpps import record_dispute
from shared.acceptance import PageAcceptance, Source, accept_page, accept_pages
from shared.db.base import utcnow
from shared.db.engine import Database, open_database
from shared.db.tables import Submission, TallyTps
from shared.events import record_event
from shared.reference.load import load_reference
from shared.settings import Settings
from tests.integration.tally.seed import ensure_device, ppwp_votes
from tests.support.totals import stored_sums

pytestmark = pytest.mark.postgres

TPS = ("1708012001001", "1708012001002", "1708011007001")  # two desa of one kecamatan
PAGE = 2
TABLES = ("acceptances", "tally_tps", "tally_totals", "readings", "ocr_jobs", "submissions",
          "event_heads", "audit_events")  # fmt: skip

Op = tuple[int, str, Source, tuple[int, int, int]]  # TPS index, which photo, source, votes
SOURCES: tuple[Source, ...] = ("auto", "confirmed", "corrected")
ops_strategy = st.lists(
    st.tuples(
        st.integers(0, len(TPS) - 1),
        st.sampled_from(["new", "latest", "first", "dispute"]),
        st.sampled_from(SOURCES),
        st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(0, 20)),
    ),
    min_size=1,
    max_size=10,
)


async def _reset(db: Database) -> None:
    async with db.transaction() as session:
        for table in TABLES:
            await session.execute(text(f"DELETE FROM {table}"))
        loaded = (
            await session.execute(
                text("SELECT COUNT(*) FROM tps WHERE code = ANY(:codes)"), {"codes": list(TPS)}
            )
        ).scalar_one()
    if loaded < len(TPS):  # another test may have emptied the reference tables
        await load_reference(db, "17.08.01")


async def _photo(db: Database, tps: str) -> str:
    """A submission with its photo event shaped as ingest writes it (page, version, sha256)."""
    device = await ensure_device(db, tps)
    sid = str(uuid.uuid4())
    sha = hashlib.sha256(sid.encode()).hexdigest()
    async with db.transaction() as session:
        version = (
            1
            + (
                await session.execute(
                    select(func.coalesce(func.max(Submission.version), 0)).where(
                        Submission.tps_code == tps, Submission.page == PAGE
                    )
                )
            ).scalar_one()
        )
        event = await record_event(
            session,
            kind="photo",
            tps_code=tps,
            contest="PPWP",
            payload={"page": PAGE, "version": version, "sha256": sha, "size": 100},
        )
        session.add(
            Submission(
                id=sid,
                tps_code=tps,
                contest="PPWP",
                page=PAGE,
                version=version,
                sha256=sha,
                size=100,
                content_type="image/jpeg",
                width=2000,
                height=1400,
                device_id=device,
                signature="x",
                captured_at=utcnow(),
                status="read",
                event_id=event.id,
            )
        )
    return sid


async def _dispute(db: Database, tps: str, submission_id: str) -> None:
    """The TPS's KPPS disputes the page as it stands now."""
    async with db.transaction() as session:
        row = await session.get(TallyTps, (tps, "PPWP"))
        entry = (row.pages if row else {}).get(str(PAGE))
        sub = await session.get(Submission, submission_id)
        assert sub is not None
        await record_dispute(
            session,
            device_id=sub.device_id,
            tps_code=tps,
            contest="PPWP",
            page=PAGE,
            submission_id=submission_id,
            revision=int(entry["revision"]) if entry else 0,
            fields=["100025"],
            reason="the photo says otherwise",
        )


async def _run(url: str, ops: list[Op], batch_sizes: list[int] | None) -> None:
    db = open_database(url, pool_size=2)
    try:
        await _reset(db)
        photos: dict[str, list[str]] = defaultdict(list)
        pending: list[PageAcceptance] = []
        for i, which, source, (a, b, c) in ops:
            tps = TPS[i]
            if which == "new" or not photos[tps]:
                photos[tps].append(await _photo(db, tps))
            sid = photos[tps][0] if which == "first" else photos[tps][-1]
            if which == "dispute" and batch_sizes is None:
                await _dispute(db, tps, sid)
                continue
            reason = "recount" if source == "corrected" else None
            item = PageAcceptance(
                sid, tps, "PPWP", PAGE, ppwp_votes(a, b, c), source, actor="pps:1", reason=reason
            )
            if batch_sizes is None:
                async with db.transaction() as session:
                    await accept_page(
                        session,
                        submission_id=item.submission_id,
                        tps_code=tps,
                        contest="PPWP",
                        page=PAGE,
                        values=item.values,
                        source=item.source,
                        reading_id=None,
                        actor=item.actor,
                        reason=item.reason,
                    )
            else:
                pending.append(item)
        sizes = iter(batch_sizes or [])
        while pending:
            size = next(sizes, len(pending))
            batch, pending = pending[:size], pending[size:]
            async with db.transaction() as session:
                await accept_pages(session, batch)

        recount = LogRecount()
        async with db.reading() as session:
            # The sequencer gives indices in id order, so this is the log's order.
            bodies = (
                await session.execute(text("SELECT body FROM audit_events ORDER BY id"))
            ).scalars()
            for index, body in enumerate(bodies):
                recount.observe(index, json.loads(bytes(body)))
            published = await stored_sums(session, "PPWP")
        assert recount.problems == []
        mine = {
            region: {k: v for k, v in sums.items() if v}
            for (region, _), sums in recount.region_totals().items()
        }
        assert mine == dict(published)
        await _published_json_agrees(url, recount)
    finally:
        await db.dispose()


async def _published_json_agrees(url: str, recount: LogRecount) -> None:
    """Everything the tally app serves (API, Sirekap JSON, export) matches, over HTTP."""
    with tempfile.TemporaryDirectory() as data_dir:
        tally_settings = Settings(
            environment="test", database_url=url, data_dir=Path(data_dir), auth_secret="t" * 32
        )
        app = create_app(tally_settings, run_sequencer=False)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://tally"
            ) as http,
        ):
            report = Report("http://tally")
            await recount.check(LogClient(http), report)
    assert report.findings == [], report.human()
    assert report.totals_compared > 0


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=ops_strategy)
def test_log_recount_equals_the_tally(pg_url: str, ops: list[Op]) -> None:
    asyncio.run(_run(pg_url, ops, None))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=ops_strategy, sizes=st.lists(st.integers(1, 5), max_size=10))
def test_log_recount_equals_the_tally_batched(pg_url: str, ops: list[Op], sizes: list[int]) -> None:
    asyncio.run(_run(pg_url, ops, sizes))
