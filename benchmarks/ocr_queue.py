"""`python -m benchmarks.ocr_queue`: claiming OCR jobs on PostgreSQL behind a long queue.

On election night uploads outrun the readers (docs/capacity.md lets OCR lag by an hour, a few
million jobs), and the table keeps every finished job. A scratch database gets `--done` finished
jobs, `--queued` due ones and a few hundred running under live leases; then `--claims` jobs are
claimed one transaction each through `services.ocr.queue.claim`, and as many through the claim
statement used until 2026-11-29 (one query for "queued and due, or running with an expired
lease"), the baseline, on the same table in the same run. Prints both latencies and
`ratio` = baseline p50 / claim p50; ends with one JSON line.

The jobs' submissions are not loaded: this scratch database drops the foreign key instead.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from benchmarks.support import print_result, scratch_database
from services.ocr import queue
from shared.db.base import utcnow
from shared.db.engine import Database

DATABASE = "sirekap_bench_ocr_queue"
RUNNING = 200
# The claim before 2026-11-29, kept here as the baseline.
ONE_QUERY_CLAIM = """
UPDATE ocr_jobs
SET status = 'running', attempts = attempts + 1, lease_until = :lease_until, worker = :worker
WHERE id = (
    SELECT id FROM ocr_jobs
    WHERE (status = 'queued' AND run_after <= :now)
       OR (status = 'running' AND lease_until < :now)
    ORDER BY run_after, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
AND ((status = 'queued' AND run_after <= :now) OR (status = 'running' AND lease_until < :now))
RETURNING id
"""


async def load(db: Database, done: int, queued: int) -> None:
    async with db.transaction() as session:
        await session.execute(
            text("ALTER TABLE ocr_jobs DROP CONSTRAINT fk_ocr_jobs_submission_id_submissions")
        )
        await session.execute(
            text(
                "INSERT INTO ocr_jobs (submission_id, status, attempts, run_after, created_at, "
                "finished_at) SELECT 'done-' || g, 'done', 1, now() - interval '3 hours' "
                "+ g * interval '1 ms', now(), now() FROM generate_series(1, :n) g"
            ),
            {"n": done},
        )
        await session.execute(
            text(
                "INSERT INTO ocr_jobs (submission_id, status, attempts, run_after, created_at) "
                "SELECT 'queued-' || g, 'queued', 0, now() - interval '1 hour' "
                "+ g * interval '1 ms', now() FROM generate_series(1, :n) g"
            ),
            {"n": queued},
        )
        await session.execute(
            text(
                "INSERT INTO ocr_jobs (submission_id, status, attempts, run_after, created_at, "
                "lease_until, worker) SELECT 'running-' || g, 'running', 1, now(), now(), "
                "now() + interval '1 hour', 'busy' FROM generate_series(1, :n) g"
            ),
            {"n": RUNNING},
        )
    async with db.transaction() as session:
        await session.execute(text("ANALYZE ocr_jobs"))


async def one_query_claim(session: AsyncSession, worker: str) -> object:
    now = utcnow()
    result = await session.execute(
        text(ONE_QUERY_CLAIM),
        {"now": now, "lease_until": now + timedelta(seconds=queue.LEASE_SECONDS), "worker": worker},
    )
    return result.first()


async def timed(
    db: Database, claims: int, claim: Callable[[AsyncSession, str], Awaitable[object]]
) -> list[float]:
    ms = []
    for _ in range(claims):
        started = time.perf_counter()
        async with db.transaction() as session:
            got = await claim(session, "bench")
        ms.append((time.perf_counter() - started) * 1000)
        if got is None:
            raise RuntimeError("the queue ran dry: raise --queued")
    return ms


def p99(values: list[float]) -> float:
    return sorted(values)[int(0.99 * (len(values) - 1))]


async def run(args: argparse.Namespace) -> dict[str, object]:
    async with scratch_database(DATABASE, keep=args.keep) as db:
        started = time.perf_counter()
        await load(db, args.done, args.queued)
        print(
            f"loaded {args.done:,} done, {args.queued:,} queued, {RUNNING} running jobs "
            f"in {time.perf_counter() - started:.1f} s"
        )
        claim_ms = await timed(db, args.claims, queue.claim)
        baseline_ms = await timed(db, args.claims, one_query_claim)
    p50, base_p50 = statistics.median(claim_ms), statistics.median(baseline_ms)
    print(f"claim (queue.claim)     p50 {p50:8.2f} ms   p99 {p99(claim_ms):8.2f} ms")
    print(f"baseline (one query)    p50 {base_p50:8.2f} ms   p99 {p99(baseline_ms):8.2f} ms")
    print(f"ratio (baseline / claim p50) {base_p50 / p50:.1f}")
    return {
        "benchmark": "ocr_queue",
        "done": args.done,
        "queued": args.queued,
        "claims": args.claims,
        "claim_p50_ms": round(p50, 3),
        "claim_p99_ms": round(p99(claim_ms), 3),
        "baseline_p50_ms": round(base_p50, 3),
        "baseline_p99_ms": round(p99(baseline_ms), 3),
        "ratio": round(base_p50 / p50, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--done", type=int, default=2_000_000)
    parser.add_argument("--queued", type=int, default=1_000_000)
    parser.add_argument("--claims", type=int, default=200, help="each, claim and baseline")
    parser.add_argument("--keep", action="store_true", help="leave the scratch database")
    print_result(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
