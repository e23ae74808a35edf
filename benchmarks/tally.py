"""Tally at national scale on PostgreSQL: region-total latency over HTTP, incremental
acceptances per second, and the full recount.

    python -m benchmarks.tally --tps 823236            # the whole country (2024: 823,236 TPS)
    python -m benchmarks.tally --tps 20000 --scope 17  # a quick run

1. Loads the Kemendagri regions of the scope (all 91k nationally) and synthetic TPS with COPY,
   then accepted PPWP readings (pages 1 and 2) for every TPS but a hold-out set, also with COPY.
   The bulk rows carry no audit events: they stand for the state after a day of counting.
2. Builds the running totals with the recount (`recompute --repair`): `recompute_s`.
3. Serves the tally with uvicorn (one process) and asks for random regions' totals at every
   level, one request at a time over keep-alive: p50/p99 against `/healthz` on the same server.
4. Accepts the hold-out TPS's pages through `shared.acceptance.accept_page` (the OCR worker's
   path: acceptance row, audit event, tally delta, one transaction each) and `accept_pages` (a
   batch per transaction) from several processes at once, the pages split over the workers by
   kecamatan as a production queue sharded by region would (`--partition none`: round robin):
   `incremental_per_s`, against a baseline that writes only the audit event.
5. Recounts again and proves the running totals equal.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy import text

from benchmarks.support import print_result
from services.tally.results.recompute import recompute
from shared.acceptance import PageAcceptance, accept_page, accept_pages
from shared.db.engine import open_database
from shared.db.migrate import upgrade
from shared.events import record_event
from shared.reference.regions import RegionRecord, regions_in
from shared.reference.tps import TpsRecord, generate_tps
from standins.ports import free_port, wait_for_port
from standins.postgres import fresh_pg_database, pg_url

DB_NAME = "sirekap_bench_tally"


COPY_BATCH = 50_000
NOW = datetime(2024, 2, 15, 3, 0, tzinfo=UTC)
DEVICE_ID = "00000000-0000-4000-8000-00000000bench"[:36]


def votes_page(rng: random.Random, voters: int) -> dict[str, int]:
    """Page 2 of the PPWP form, consistent with itself and with page 1's `voters` (rule R5: no
    more ballots counted than voters who voted; a couple may leave without casting)."""
    cast = voters - rng.randint(0, min(2, voters))
    invalid = rng.randint(0, min(5, cast))
    a = rng.randint(0, cast - invalid)
    b = rng.randint(0, cast - invalid - a)
    c = cast - invalid - a - b
    return {
        "100025": a,
        "100026": b,
        "100027": c,
        "suara_sah": a + b + c,
        "suara_tidak_sah": invalid,
        "suara_total": cast,
    }


def admin_page(rng: random.Random, dpt: int) -> dict[str, int]:
    men = rng.randint(dpt // 3, dpt - dpt // 3)
    women = dpt - men
    vm, vw = rng.randint(men // 2, men), rng.randint(women // 2, women)
    values: dict[str, int] = {}
    rows = {
        "pemilih_dpt": (men, women),
        "pemilih_dptb": (0, 0),
        "pemilih_dpk": (0, 0),
        "pengguna_dpt": (vm, vw),
        "pengguna_dptb": (0, 0),
        "pengguna_non_dpt": (0, 0),
        "pengguna_total": (vm, vw),
    }
    for prefix, (m, w) in rows.items():
        values.update({f"{prefix}_l": m, f"{prefix}_p": w, f"{prefix}_j": m + w})
    received = dpt + (dpt + 49) // 50
    values.update(
        {
            "surat_suara_diterima": received,
            "surat_suara_dikembalikan": 0,
            "surat_suara_tidak_digunakan": received - vm - vw,
            "surat_suara_digunakan": vm + vw,
        }
    )
    return values


def tps_pages(rng: random.Random, dpt: int) -> tuple[dict[str, int], dict[str, int]]:
    """Pages 1 and 2 of one TPS's PPWP form, consistent across the pages as a real form is: a
    TPS whose pages disagree is an anomaly, which the tally records (rare on election day)."""
    admin = admin_page(rng, dpt)
    return admin, votes_page(rng, admin["pengguna_total_j"])


def pick_tps(scope: str | None, n: int) -> tuple[list[Any], list[TpsRecord]]:
    regions = list(regions_in(scope))
    villages = [r.code for r in regions if r.level == 4]
    tps = list(generate_tps(villages))
    if n < len(tps):  # spread the sample over the whole scope, not its first provinces
        step = len(tps) / n
        tps = [tps[int(i * step)] for i in range(n)]
    return regions, tps


def _chunks(rows: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= COPY_BATCH:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def bulk_load(dsn: str, regions: list[Any], tps: list[TpsRecord], holdout: set[str]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "regions",
            records=[(r.code, r.name, r.level, r.parent_code) for r in regions],
            columns=["code", "name", "level", "parent_code"],
        )
        for chunk in _chunks((t.code, t.desa_code, t.number, t.dpt) for t in tps):
            await conn.copy_records_to_table(
                "tps", records=chunk, columns=["code", "desa_code", "number", "dpt"]
            )
        await conn.execute(
            "INSERT INTO devices (id, tps_code, public_key, label, enrolled_at) "
            "VALUES ($1, $2, $3, 'bench', now())",
            DEVICE_ID,
            tps[0].code,
            b"\x01" * 32,
        )
        accepted = (t for t in tps if t.code not in holdout)
        next_id = 1
        for chunk_tps in _chunks((t,) for t in accepted):
            acc_rows: list[tuple[Any, ...]] = []
            tally_rows: list[tuple[Any, ...]] = []
            for (t,) in chunk_tps:
                rng = random.Random(t.code)
                pages: dict[str, Any] = {}
                merged: dict[str, int] = {}
                for page, values in enumerate(tps_pages(rng, t.dpt), start=1):
                    sid = str(uuid.UUID(int=rng.getrandbits(128)))
                    acc_rows.append(
                        (
                            next_id,
                            t.code,
                            "PPWP",
                            page,
                            1,
                            sid,
                            1,
                            None,
                            "auto",
                            json.dumps(values),
                            None,
                            True,
                            "bench",
                            None,
                            0,
                            NOW,
                        )
                    )
                    pages[str(page)] = {
                        "acceptance_id": next_id,
                        "event_id": 0,
                        "submission_id": sid,
                        "submission_version": 1,
                        "revision": 1,
                        "source": "auto",
                        "values": values,
                    }
                    merged.update(values)
                    next_id += 1
                tally_rows.append(
                    (t.code, "PPWP", json.dumps(pages), json.dumps(merged), "[]", 0, NOW)
                )
            await conn.copy_records_to_table(
                "acceptances",
                records=acc_rows,
                columns=[
                    "id",
                    "tps_code",
                    "contest",
                    "page",
                    "revision",
                    "submission_id",
                    "submission_version",
                    "reading_id",
                    "source",
                    "values",
                    "supersedes",
                    "counted",
                    "actor",
                    "reason",
                    "event_id",
                    "created_at",
                ],
            )
            await conn.copy_records_to_table(
                "tally_tps",
                records=tally_rows,
                columns=[
                    "tps_code",
                    "contest",
                    "pages",
                    "values",
                    "anomalies",
                    "anomaly_count",
                    "updated_at",
                ],
            )
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('acceptances', 'id'), $1)", next_id
        )
        # Submissions for the hold-out pages: what the incremental phase will accept.
        subs = []
        for t in sorted(holdout):
            for page in (1, 2):
                sid = str(uuid.uuid4())
                subs.append(
                    (
                        sid,
                        t,
                        "PPWP",
                        page,
                        1,
                        uuid.uuid4().hex * 2,
                        1000,
                        "image/jpeg",
                        2000,
                        1400,
                        DEVICE_ID,
                        "x",
                        NOW,
                        NOW,
                        "read",
                        0,
                    )
                )
        for chunk in _chunks(iter(subs)):
            await conn.copy_records_to_table(
                "submissions",
                records=chunk,
                columns=[
                    "id",
                    "tps_code",
                    "contest",
                    "page",
                    "version",
                    "sha256",
                    "size",
                    "content_type",
                    "width",
                    "height",
                    "device_id",
                    "signature",
                    "captured_at",
                    "received_at",
                    "status",
                    "event_id",
                ],
            )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


# --- incremental phase: runs in worker processes -------------------------------------------


Item = tuple[str, str, int, int]  # submission id, TPS, page, DPT


def _values(tps: str, page: int, dpt: int) -> dict[str, int]:
    return tps_pages(random.Random(f"{tps}:new"), dpt)[page - 1]


async def _accept_worker(
    url: str, lanes: list[list[Item]], mode: str, batch: int
) -> tuple[float, float, int]:
    """One process: a transaction at a time per lane, the lanes concurrently. `mode`: "event"
    (the baseline: only the audit event), "single" (one `accept_page` transaction per page) or
    "batch" (`accept_pages` over `batch` pages per transaction)."""
    db = open_database(url, pool_size=len(lanes))
    # The readings' values are the OCR's output, not the acceptance's work: made before timing.
    work = [[(item, _values(item[1], item[2], item[3])) for item in lane] for lane in lanes]

    async def connect() -> None:  # a running worker's pool is warm: open its connections now
        async with db.transaction() as session:
            await session.execute(text("SELECT pg_sleep(0.05)"))

    await asyncio.gather(*(connect() for _ in lanes))

    async def one(item: Item, values: dict[str, int]) -> None:
        sid, tps, page, _ = item
        async with db.transaction() as session:
            if mode == "event":
                await record_event(
                    session,
                    kind="acceptance",
                    tps_code=tps,
                    contest="PPWP",
                    payload={"submission": sid, "values": values},
                )
            else:
                await accept_page(
                    session,
                    submission_id=sid,
                    tps_code=tps,
                    contest="PPWP",
                    page=page,
                    values=values,
                    source="auto",
                    reading_id=None,
                    actor="bench",
                    reason=None,
                )

    async def many(chunk: list[tuple[Item, dict[str, int]]]) -> None:
        pages = [
            PageAcceptance(sid, tps, "PPWP", page, values, actor="bench")
            for (sid, tps, page, _), values in chunk
        ]
        async with db.transaction() as session:
            await accept_pages(session, pages)

    async def loop(lane: list[tuple[Item, dict[str, int]]]) -> None:
        if mode == "batch":
            for i in range(0, len(lane), batch):
                await many(lane[i : i + batch])
        else:
            for item, values in lane:
                await one(item, values)

    started = time.time()
    await asyncio.gather(*(loop(lane) for lane in work))
    finished = time.time()
    await db.dispose()
    return started, finished, sum(len(lane) for lane in lanes)


def _worker_entry(args: tuple[str, list[list[Item]], str, int]) -> tuple[float, float, int]:
    return asyncio.run(_accept_worker(*args))


def lanes_of(items: list[Item], n: int, partition: str) -> list[list[Item]]:
    """Split the pages over `n` concurrent workers. "kecamatan": as production would shard its
    queue, by region, each kecamatan's pages to one worker (balanced greedily by size), so two
    workers never hold the same TPS or village rows; "none": round robin, both pages of a TPS
    and the TPS of one village land in concurrent transactions, which then queue on each
    other's row locks. Totals are exact either way."""
    if partition == "none":
        return [items[i::n] for i in range(n)]
    groups: dict[str, list[Item]] = {}
    for item in items:
        groups.setdefault(item[1][:6], []).append(item)
    lanes: list[list[Item]] = [[] for _ in range(n)]
    for group in sorted(groups.values(), key=len, reverse=True):
        min(lanes, key=len).extend(group)
    for lane in lanes:  # each worker's queue in arrival order, not grouped
        random.Random(len(lane)).shuffle(lane)
    return lanes


def incremental(
    url: str,
    items: list[Item],
    processes: int,
    tasks: int,
    mode: str,
    batch: int = 1,
    partition: str = "kecamatan",
) -> float:
    """Accepted pages per second over all worker processes (first start to last finish)."""
    lanes = lanes_of(items, processes * tasks, partition)
    shares = [lanes[i::processes] for i in range(processes)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(processes) as pool:
        results = pool.map(_worker_entry, [(url, s, mode, batch) for s in shares])
    started = min(r[0] for r in results)
    finished = max(r[1] for r in results)
    return sum(r[2] for r in results) / (finished - started)


async def hold_out_items(dsn: str, holdout: set[str]) -> list[tuple[str, str, int, int]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT s.id, s.tps_code, s.page, t.dpt FROM submissions s "
            "JOIN tps t ON t.code = s.tps_code ORDER BY random()"
        )
    finally:
        await conn.close()
    return [(r["id"], r["tps_code"], r["page"], r["dpt"]) for r in rows]


async def loaded_regions(dsn: str) -> tuple[list[Any], int]:
    conn = await asyncpg.connect(dsn)
    try:
        regions = await conn.fetch("SELECT code, level FROM regions")
        n_tps = await conn.fetchval("SELECT COUNT(*) FROM tps")
    finally:
        await conn.close()
    return [RegionRecord(r["code"], "", r["level"], None) for r in regions], int(n_tps)


async def retake_items(dsn: str, n: int) -> list[Item]:
    """New photos (the next version) of both PPWP pages of `n` random TPS: accepting them goes
    through the delta path with old values to subtract, like a retake or a correction."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            """INSERT INTO submissions (id, tps_code, contest, page, version, sha256, size,
                   content_type, width, height, device_id, signature, captured_at, received_at,
                   status, event_id)
               SELECT gen_random_uuid()::text, t.code, 'PPWP', p.page,
                   COALESCE((SELECT max(version) FROM submissions s WHERE s.tps_code = t.code
                             AND s.contest = 'PPWP' AND s.page = p.page), 1) + 1,
                   md5(random()::text) || md5(random()::text), 1000, 'image/jpeg', 2000, 1400,
                   $2, 'x', now(), now(), 'read', 0
               FROM (SELECT code FROM tps ORDER BY random() LIMIT $1) t
               CROSS JOIN (VALUES (1), (2)) AS p(page)
               RETURNING id, tps_code, page""",
            n,
            DEVICE_ID,
        )
        dpt = dict(
            await conn.fetch(
                "SELECT code, dpt FROM tps WHERE code = ANY($1)", [r["tps_code"] for r in rows]
            )
        )
    finally:
        await conn.close()
    items = [(r["id"], r["tps_code"], r["page"], dpt[r["tps_code"]]) for r in rows]
    random.Random(2).shuffle(items)
    return items


# --- query phase ---------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class KeepAliveClient:
    """GET over one keep-alive HTTP/1.1 connection with the standard library's client.

    Measured here, httpx's AsyncClient spent ~1.5-2 ms of its own per request, as much as the
    server's whole answer; a dashboard's CDN or a `curl` does not. One lean client keeps the
    figure about the server, and /healthz through the same client is the floor."""

    def __init__(self, base: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=30)

    def get(self, path: str) -> int:
        self.conn.request("GET", path)
        res = self.conn.getresponse()
        res.read()
        return res.status

    def close(self) -> None:
        self.conn.close()


def query_latency(base: str, codes_by_level: dict[int, list[str]], requests: int) -> dict[str, Any]:
    rng = random.Random(7)
    paths = []
    levels = sorted(codes_by_level)
    for i in range(requests):
        level = levels[i % len(levels)]
        paths.append((level, f"/api/v1/regions/{rng.choice(codes_by_level[level])}/totals"))
    timings: dict[int, list[float]] = {lv: [] for lv in levels}
    floor: list[float] = []
    client = KeepAliveClient(base)
    try:
        for _, path in paths[:200]:  # warm-up: connections, caches, the plan cache
            assert client.get(path) == 200, path
        for level, path in paths:
            t0 = time.perf_counter()
            status = client.get(path)
            timings[level].append((time.perf_counter() - t0) * 1000)
            assert status == 200, (path, status)
        for _ in range(min(requests, 2000)):
            t0 = time.perf_counter()
            status = client.get("/healthz")
            floor.append((time.perf_counter() - t0) * 1000)
            assert status == 200, status
    finally:
        client.close()
    every = [t for ts in timings.values() for t in ts]
    return {
        "p50": statistics.median(every),
        "p99": percentile(every, 0.99),
        "per_level_p99": {str(lv): round(percentile(ts, 0.99), 2) for lv, ts in timings.items()},
        "floor_p50": statistics.median(floor),
        "floor_p99": percentile(floor, 0.99),
    }


def serve(url: str, data_dir: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "SIREKAP_DATABASE_URL": url,
        "SIREKAP_DATA_DIR": data_dir,
        "SIREKAP_AUTH_SECRET": "bench-" + "x" * 32,
        "SIREKAP_ENVIRONMENT": "test",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "services.tally.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
    )
    wait_for_port(port, timeout_s=120)
    return proc, f"http://127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tps", type=int, default=823_236)
    parser.add_argument("--scope", default=None, help="dotted region code; default the country")
    parser.add_argument("--holdout", type=int, default=5_000, help="TPS accepted incrementally")
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=8, help="concurrent transactions/process")
    parser.add_argument("--batch", type=int, default=200, help="pages per accept_pages call")
    parser.add_argument(
        "--partition",
        choices=["kecamatan", "none"],
        default="kecamatan",
        help="how pages are split over the concurrent workers (see lanes_of)",
    )
    parser.add_argument("--db", default=DB_NAME, help="scratch database (dropped unless --reuse)")
    parser.add_argument(
        "--only-query", action="store_true", help="with --reuse: measure region totals only"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the loaded database of an earlier run; accept retakes of --holdout TPS",
    )
    args = parser.parse_args()

    async def recount(repair: bool) -> Any:
        db = open_database(url, pool_size=2)
        try:
            return await recompute(db, repair=repair)
        finally:
            await db.dispose()

    load_s = 0.0
    if args.reuse:  # the database of an earlier run: skip the load, accept retakes instead
        url = pg_url(args.db)
        dsn = url.replace("postgresql+asyncpg://", "postgresql://")
        upgrade(url)
        regions, n_tps = asyncio.run(loaded_regions(dsn))
        items = [] if args.only_query else asyncio.run(retake_items(dsn, args.holdout))
    else:
        url = asyncio.run(fresh_pg_database(args.db))
        dsn = url.replace("postgresql+asyncpg://", "postgresql://")
        upgrade(url)
        t0 = time.perf_counter()
        regions, tps = pick_tps(args.scope, args.tps)
        n_tps = len(tps)
        holdout = {t.code for t in random.Random(1).sample(tps, min(args.holdout, n_tps // 10))}
        asyncio.run(bulk_load(dsn, regions, tps, holdout))
        load_s = time.perf_counter() - t0
        print(
            f"loaded {len(regions):,} regions, {n_tps:,} TPS, "
            f"{2 * (n_tps - len(holdout)):,} accepted pages in {load_s:.1f} s"
        )
        built = asyncio.run(recount(True))
        print(f"recount: built the running totals in {built.seconds:.1f} s")
        items = asyncio.run(hold_out_items(dsn, holdout))
    if not args.only_query:
        check = asyncio.run(recount(False))
        print(
            f"recount: verified in {check.seconds:.1f} s "
            f"({check.scopes:,} scopes, {check.values:,} values, equal={check.equal})"
        )

    codes_by_level: dict[int, list[str]] = {}
    for r in regions:
        codes_by_level.setdefault(r.level, []).append(r.code)
    with tempfile.TemporaryDirectory() as data_dir:
        proc, base = serve(url, data_dir)
        try:
            q = query_latency(base, codes_by_level, args.requests)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(
        f"region totals over HTTP: p50 {q['p50']:.2f} ms, p99 {q['p99']:.2f} ms "
        f"(per level p99 {q['per_level_p99']}); /healthz p50 {q['floor_p50']:.2f} ms"
    )

    if args.only_query:
        print_result(
            {
                "tps": n_tps,
                "regions": len(regions),
                "requests": args.requests,
                "query_p50_ms": round(q["p50"], 2),
                "query_p99_ms": round(q["p99"], 2),
                "healthz_p50_ms": round(q["floor_p50"], 2),
                "healthz_p99_ms": round(q["floor_p99"], 2),
            }
        )
        return
    fifth = len(items) // 5
    event_items, single_items, batch_items = (
        items[:fifth],
        items[fifth : 2 * fifth],
        items[2 * fifth :],
    )
    workers = (args.processes, args.tasks)
    base_rate = incremental(url, event_items, *workers, "event", 1, args.partition)
    single = incremental(url, single_items, *workers, "single", 1, args.partition)
    rate = incremental(url, batch_items, *workers, "batch", args.batch, args.partition)
    print(
        f"incremental: {single:,.0f} pages/s with one accept_page transaction each, "
        f"{rate:,.0f} pages/s through accept_pages in batches of {args.batch} "
        f"({args.processes} processes × {args.tasks} transactions, pages split by "
        f"{args.partition}); "
        f"event-only baseline {base_rate:,.0f}/s"
    )
    # The baseline's pages got only events; accept them too so the final recount covers them.
    incremental(url, event_items, args.processes, args.tasks, "batch", args.batch)
    final = asyncio.run(recount(False))
    print(f"final recount equal={final.equal} in {final.seconds:.1f} s")
    print_result(
        {
            "tps": n_tps,
            "regions": len(regions),
            "accepted_pages": 2 * n_tps,
            "load_s": round(load_s, 1),
            "query_p50_ms": round(q["p50"], 2),
            "query_p99_ms": round(q["p99"], 2),
            "query_p99_vs_healthz": round(q["p99"] / q["floor_p99"], 2),
            "incremental_per_s": round(rate),
            "incremental_batch": args.batch,
            "incremental_single_per_s": round(single),
            "single_vs_event_only": round(single / base_rate, 2),
            "recompute_s": round(check.seconds, 1),
            "recount_equal": bool(check.equal and final.equal),
        }
    )


if __name__ == "__main__":
    main()
