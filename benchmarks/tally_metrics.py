"""`python -m benchmarks.tally_metrics`: the pipeline gauges' refresh on PostgreSQL at scale.

Every tally process refreshes the gauges of `services/tally/metrics.py` every 10 s. A scratch
database gets `--pages` submissions, each with its reading and (all but `--waiting`) its
acceptance: about 8% of readings went to a person, all of those but `--waiting` reviewed
already. Then `services.tally.metrics.refresh` runs `--runs` times, and as many times the three
queries it used until 2026-11-29 (read latency filtered on `readings.created_at`, the review
backlog from every needs-review reading, the queue age by creation time), the baseline, on the
same tables in the same run. Prints both times and `ratio` = baseline / refresh (medians); ends
with one JSON line. Both must count the same backlog.

The submissions' devices and TPS are not loaded: this scratch database drops those two foreign
keys instead.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

from prometheus_client import REGISTRY
from sqlalchemy import text

from benchmarks.support import print_result, scratch_database
from services.tally import metrics
from shared.db.engine import Database

DATABASE = "sirekap_bench_tally_metrics"
REVIEWED_EVERY = 12  # one reading in 12 (8%) went to a person
# The refresh's queries before 2026-11-29 that read whole tables, kept as the baseline.
BASELINE = (
    "SELECT min(created_at) FROM ocr_jobs WHERE status = 'queued'",
    "SELECT r.created_at, s.received_at FROM readings r JOIN submissions s "
    "ON s.id = r.submission_id WHERE r.created_at > now() - interval '5 minutes'",
    "SELECT count(*) FROM readings r JOIN submissions s ON s.id = r.submission_id "
    "WHERE r.outcome = 'needs_review' "
    "AND NOT EXISTS (SELECT 1 FROM acceptances a WHERE a.submission_id = r.submission_id) "
    "AND NOT EXISTS (SELECT 1 FROM submissions n WHERE n.tps_code = s.tps_code "
    "AND n.contest = s.contest AND n.page = s.page AND n.version > s.version)",
)


async def load(db: Database, pages: int, waiting: int) -> None:
    """`pages` pages of 40 a TPS, read, and accepted but for the last `waiting` of those a
    person must review (which then stand in status needs_review, as the worker leaves them)."""
    pending = f"g % {REVIEWED_EVERY} = 0 AND g > :pages - :waiting * {REVIEWED_EVERY}"
    statements = (
        "ALTER TABLE submissions DROP CONSTRAINT fk_submissions_device_id_devices",
        "ALTER TABLE submissions DROP CONSTRAINT fk_submissions_tps_code_tps",
        "INSERT INTO submissions (id, tps_code, contest, page, version, sha256, size, "
        "content_type, width, height, device_id, signature, captured_at, received_at, status, "
        "event_id) SELECT 's' || g, lpad((g / 40)::text, 13, '0'), 'PPWP', g % 40, 1, "
        "md5(g::text) || md5(g::text), 1000000, 'image/jpeg', 3000, 4000, 'd', 'sig', now(), "
        "now() - interval '2 hours' + g * interval '1 ms', "
        f"CASE WHEN {pending} THEN 'needs_review' ELSE 'accepted' END, g "
        "FROM generate_series(1, :pages) g",
        'INSERT INTO readings (submission_id, tps_code, contest, page, "values", fields, '
        "failing, outcome, confidence, model_sha256, reader_version, event_id, created_at) "
        "SELECT 's' || g, lpad((g / 40)::text, 13, '0'), 'PPWP', g % 40, '{\"a\": 1}', "
        '\'{"a": {"value": 1, "boxes": []}}\', \'[]\', '
        f"CASE WHEN g % {REVIEWED_EVERY} = 0 THEN 'needs_review' ELSE 'auto_accepted' END, "
        "0.99, repeat('0', 64), 'bench', g, now() - interval '2 hours' + g * interval '1 ms' "
        "+ interval '2 s' FROM generate_series(1, :pages) g",
        "INSERT INTO acceptances (tps_code, contest, page, revision, submission_id, "
        'submission_version, source, "values", counted, actor, event_id, created_at) '
        "SELECT lpad((g / 40)::text, 13, '0'), 'PPWP', g % 40, 1, 's' || g, 1, 'auto', "
        f"'{{\"a\": 1}}', true, 'bench', g, now() FROM generate_series(1, :pages) g "
        f"WHERE NOT ({pending})",
        "ANALYZE",
    )
    for statement in statements:
        async with db.transaction() as session:
            await session.execute(text(statement), {"pages": pages, "waiting": waiting})


async def baseline(db: Database) -> int:
    """The old queries, one after another; returns the backlog the last one counts."""
    async with db.reading() as session:
        for query in BASELINE:
            rows = (await session.execute(text(query))).all()
        backlog = int(rows[0][0])
    return backlog


async def timed(runs: int, step: Callable[[], Awaitable[object]]) -> list[float]:
    ms = []
    for _ in range(runs):
        started = time.perf_counter()
        await step()
        ms.append((time.perf_counter() - started) * 1000)
    return ms


async def run(args: argparse.Namespace) -> dict[str, object]:
    async with scratch_database(DATABASE, keep=args.keep) as db:
        started = time.perf_counter()
        await load(db, args.pages, args.waiting)
        print(
            f"loaded {args.pages:,} pages, {args.waiting:,} waiting for a person, "
            f"in {time.perf_counter() - started:.1f} s"
        )
        refresh_ms = await timed(args.runs, lambda: metrics.refresh(db))
        backlog = int(REGISTRY.get_sample_value("sirekap_review_backlog") or 0)
        baseline_ms = await timed(args.runs, lambda: baseline(db))
        baseline_backlog = await baseline(db)
    refresh_p50, baseline_p50 = statistics.median(refresh_ms), statistics.median(baseline_ms)
    print(f"refresh (metrics.refresh)    median {refresh_p50:9.1f} ms   backlog {backlog:,}")
    print(
        f"baseline (the old queries)   median {baseline_p50:9.1f} ms   backlog {baseline_backlog:,}"
    )
    print(f"ratio (baseline / refresh)   {baseline_p50 / refresh_p50:.1f}")
    if backlog != baseline_backlog:
        raise SystemExit("the refresh and the baseline count different backlogs")
    return {
        "benchmark": "tally_metrics",
        "pages": args.pages,
        "waiting": args.waiting,
        "refresh_ms": round(refresh_p50, 2),
        "baseline_ms": round(baseline_p50, 2),
        "review_backlog": backlog,
        "ratio": round(baseline_p50 / refresh_p50, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pages", type=int, default=2_000_000)
    parser.add_argument("--waiting", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="leave the scratch database")
    print_result(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
