"""Property: whatever the order of acceptances, retakes, late OCR results and corrections, the
running totals equal a recount (an independent model here, and `recompute` in SQL)."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from services.tally.results import repository
from services.tally.results.recompute import recompute
from shared.acceptance import PageAcceptance, Source, accept_pages, region_chain
from shared.db.engine import Database, open_database
from shared.db.migrate import upgrade
from shared.reference.load import load_reference
from tests.integration.tally.seed import accept, ppwp_votes, submit

# Two TPS in one village, one in another village of the same kecamatan, one elsewhere.
TPS = ("1708042001001", "1708042001002", "1708042002001", "1708012001001")
PAGE = 2
# ocr_jobs: earlier tests of the session may leave jobs citing their submissions.
TALLY_TABLES = ("acceptances", "tally_tps", "tally_totals", "readings", "ocr_jobs",
                "submissions", "event_heads", "audit_events")  # fmt: skip


@dataclass
class Model:
    """The recount by hand: per page, the acceptance with the highest (version, order)."""

    versions: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    counted: dict[str, tuple[int, int, dict[str, int]]] = field(default_factory=dict)
    seq: int = 0

    def accept(self, tps: str, version: int, values: dict[str, int]) -> None:
        self.seq += 1
        old = self.counted.get(tps)
        if old is None or (version, self.seq) > (old[0], old[1]):
            self.counted[tps] = (version, self.seq, values)

    def totals(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for tps, (_, _, values) in self.counted.items():
            for scope in region_chain(tps):
                out[scope]["_tps"] += 1
                for k, v in values.items():
                    out[scope][k] += v
        return {s: {k: v for k, v in t.items() if v} for s, t in out.items()}


Op = tuple[int, str, tuple[int, int, int]]  # TPS index, which photo, votes
ops_strategy = st.lists(
    st.tuples(
        st.integers(0, len(TPS) - 1),
        st.sampled_from(["new", "latest", "first"]),
        # ≤ 120 votes: within the ballot supply of the smallest TPS (DPT 120), so rule 6 holds.
        st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(0, 20)),
    ),
    min_size=1,
    max_size=12,
)


async def _reset(db: Database) -> None:
    async with db.transaction() as session:
        for table in TALLY_TABLES:
            await session.execute(text(f"DELETE FROM {table}"))
        loaded = (await session.execute(text("SELECT COUNT(*) FROM tps"))).scalar_one()
    if not loaded:
        await load_reference(db, "17.08")


async def _run(url: str, ops: list[Op], batch_sizes: list[int] | None = None) -> None:
    """Apply `ops` one transaction each, or (with `batch_sizes`) through `accept_pages` in
    batches of those sizes; either way the totals must equal the model's recount."""
    db = open_database(url, pool_size=2)
    try:
        await _reset(db)
        model = Model()
        pending: list[PageAcceptance] = []
        for i, which, (a, b, c) in ops:
            tps = TPS[i]
            subs = model.versions[tps]
            if which == "new" or not subs:
                sid, _ = await submit(db, tps, "PPWP", PAGE)
                subs.append(sid)
            else:
                sid = subs[-1] if which == "latest" else subs[0]
            values = ppwp_votes(a, b, c)
            source: Source = "corrected" if tps in model.counted else "auto"
            if batch_sizes is None:
                await accept(db, sid, values, source=source, reason="recount")
            else:
                pending.append(PageAcceptance(sid, tps, "PPWP", PAGE, values, source,
                                              reason="recount"))  # fmt: skip
            model.accept(tps, subs.index(sid) + 1, values)
        sizes = iter(batch_sizes or [])
        while pending:
            size = next(sizes, len(pending))
            batch, pending = pending[:size], pending[size:]
            async with db.transaction() as session:
                await accept_pages(session, batch)
        expected = model.totals()
        async with db.reading() as session:
            for scope in {s for t in TPS for s in region_chain(t)}:
                stored = await repository.totals_of(session, scope, "PPWP")
                assert {k: v for k, v in stored.items() if v} == expected.get(scope, {}), scope
        report = await recompute(db)
        assert report.equal, report.mismatches
        await _check_event_chains(db, accepted=len(ops))
    finally:
        await db.dispose()


async def _check_event_chains(db: Database, accepted: int) -> None:
    """One acceptance event per accept, and per TPS each event cites the one before it."""
    async with db.reading() as session:
        rows = (
            await session.execute(
                text("SELECT tps_code, kind, body, entry_sha256 FROM audit_events ORDER BY id")
            )
        ).all()
    assert sum(r.kind in ("acceptance", "correction") for r in rows) == accepted
    last: dict[str, str | None] = defaultdict(lambda: None)
    for tps, _, body, sha in rows:
        assert json.loads(body)["prev"] == last[tps]
        last[tps] = sha


@pytest.fixture(scope="module")
def property_sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("tally-props") / "sirekap.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    return url


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=ops_strategy)
def test_totals_equal_a_recount_sqlite(property_sqlite_url: str, ops: list[Op]) -> None:
    asyncio.run(_run(property_sqlite_url, ops))


@pytest.mark.postgres
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=ops_strategy)
def test_totals_equal_a_recount_postgres(pg_url: str, ops: list[Op]) -> None:
    asyncio.run(_run(pg_url, ops))


@pytest.mark.postgres
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=ops_strategy, sizes=st.lists(st.integers(1, 6), max_size=12))
def test_batched_acceptances_equal_a_recount_postgres(
    pg_url: str, ops: list[Op], sizes: list[int]
) -> None:
    asyncio.run(_run(pg_url, ops, sizes))
