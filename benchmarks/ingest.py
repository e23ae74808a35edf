"""Ingest throughput: 32 concurrent KPPS clients uploading 1 MiB JPEGs through the whole path
(signature check, streaming hash, validation, storage, database, OCR job, audit event), against
a bare endpoint on the same server that only reads and discards the same bodies.

    python -m benchmarks.ingest --backend embedded
    python -m benchmarks.ingest --backend postgres-s3

The server is one uvicorn process (one core); the clients run in this process (the other core).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import cv2
import httpx
import numpy as np

from benchmarks.support import print_result
from clients.kpps.client import KppsClient, enroll
from clients.kpps.profile import Profile
from services.ingest.enrolment import issue_code
from shared.db.engine import open_database
from shared.db.migrate import upgrade
from shared.reference.load import load_reference
from standins.backend import BACKENDS, backend_env
from standins.ports import free_port, wait_for_port

MiB = 1024 * 1024
SCOPE = "17.08.04"  # one kecamatan of Kepahiang: enough TPS for 32 devices


def one_mib_jpeg() -> bytes:
    """A phone-like JPEG of about 1 MiB (noise keeps it from compressing away)."""
    rng = np.random.default_rng(0)
    image = rng.integers(120, 250, (1500, 2000, 3), dtype=np.uint8)
    image = np.asarray(cv2.GaussianBlur(image, (3, 3), 0), dtype=np.uint8)
    for quality in range(95, 40, -5):
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok and len(data) <= MiB:
            break
    body = data.tobytes()
    # Pad with comment segments (ignored by decoders) to exactly 1 MiB.
    padding = b""
    while len(body) + len(padding) < MiB:
        size = min(MiB - len(body) - len(padding) - 4, 65_533)
        if size < 1:
            break
        padding += b"\xff\xfe" + (size + 2).to_bytes(2, "big") + b"\0" * size
    return body[:2] + padding + body[2:]


def variant(base: bytes, n: int) -> bytes:
    """A distinct, still valid JPEG: a COM segment right after SOI carries a counter."""
    comment = f"bench-{n:08d}".encode()
    segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    return base[:2] + segment + base[2:]


async def prepare(url: str, clients: int) -> tuple[list[str], list[str]]:
    upgrade(url)
    db = open_database(url)
    try:
        await load_reference(db, SCOPE)
        from sqlalchemy import select

        from shared.db.tables import Tps

        async with db.reading() as session:
            tps = list((await session.execute(select(Tps.code).order_by(Tps.code))).scalars())
        tps = tps[:clients]
        codes = []
        for code in tps:
            async with db.transaction() as session:
                codes.append(
                    (await issue_code(session, tps_code=code, issued_by="bench", ttl_s=3600))[0]
                )
    finally:
        await db.dispose()
    return tps, codes


async def run_full(
    server: str, profiles: list[Profile], base: bytes, per_client: int, offset: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=len(profiles), max_keepalive_connections=len(profiles))
    async with httpx.AsyncClient(base_url=server, timeout=120, limits=limits) as http:

        async def one_client(i: int, profile: Profile) -> None:
            client = KppsClient(profile, http)
            for j in range(per_client):
                photo = variant(base, offset + i * per_client + j)
                start = time.perf_counter()
                receipt = await client.upload_single(photo, contest="PPWP", page=1 + j % 2)
                latencies.append(time.perf_counter() - start)
                assert receipt["duplicate"] is False

        start = time.perf_counter()
        await asyncio.gather(*(one_client(i, p) for i, p in enumerate(profiles)))
        return time.perf_counter() - start, latencies


async def run_bare(server: str, clients: int, base: bytes, per_client: int) -> float:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=server, timeout=120, limits=limits) as http:

        async def one_client(i: int) -> None:
            for j in range(per_client):
                photo = variant(base, 10_000_000 + i * per_client + j)
                response = await http.post("/bench/discard", content=photo)
                assert response.json()["size"] == len(photo)

        start = time.perf_counter()
        await asyncio.gather(*(one_client(i) for i in range(clients)))
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=BACKENDS, default="embedded")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--uploads", type=int, default=640, help="uploads per measured run")
    parser.add_argument("--workers", type=int, default=2, help="server processes (one per core)")
    args = parser.parse_args()
    per_client = max(args.uploads // args.clients, 1)
    base = one_mib_jpeg()

    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "SIREKAP_DATA_DIR": tmp,
            "SIREKAP_AUTH_SECRET": "b" * 32,
            # 32 clients from one loopback address, hundreds of uploads each: the per-address
            # and per-device limits would measure themselves, not the upload path.
            "SIREKAP_RATE_UPLOAD_ADDRESS_BURST": "0",
            "SIREKAP_RATE_UPLOAD_DEVICE_BURST": "0",
            "SIREKAP_RATE_ENROL_ADDRESS_BURST": "0",
        }
        env |= backend_env(args.backend, Path(tmp), stack, name="sirekap_bench_ingest")
        url = env["SIREKAP_DATABASE_URL"]
        tps, codes = asyncio.run(prepare(url, args.clients))
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.ingest_server", str(port), str(args.workers)],
            env=env,
        )
        stack.callback(server.wait, 10)
        stack.callback(server.terminate)
        wait_for_port(port)
        base_url = f"http://127.0.0.1:{port}"

        async def measure() -> dict[str, float]:
            profiles = [await enroll(base_url, t, c) for t, c in zip(tps, codes, strict=True)]
            await run_full(base_url, profiles, base, 2, offset=50_000_000)  # warm-up
            await run_bare(base_url, args.clients, base, 2)
            bare_s = await run_bare(base_url, args.clients, base, per_client)
            full_s, latencies = await run_full(base_url, profiles, base, per_client, offset=0)
            total = per_client * args.clients
            return {
                "uploads": total,
                "uploads_per_s": total / full_s,
                "baseline_per_s": total / bare_s,
                "p50_ms": statistics.median(latencies) * 1000,
                "p95_ms": statistics.quantiles(latencies, n=20)[18] * 1000,
            }

        figures = asyncio.run(measure())

    ratio = figures["uploads_per_s"] / figures["baseline_per_s"]
    print(f"backend            {args.backend}, {args.workers} server process(es)")
    print(f"clients            {args.clients} concurrent, {len(base) / MiB:.2f} MiB JPEGs")
    print(
        f"full path          {figures['uploads_per_s']:8.1f} uploads/s "
        f"(p50 {figures['p50_ms']:.0f} ms, p95 {figures['p95_ms']:.0f} ms)"
    )
    print(f"bare endpoint      {figures['baseline_per_s']:8.1f} bodies/s (read and discard)")
    print(f"ratio              {ratio:8.2f}  (target ≥ 0.5)")
    print_result(
        {
            "benchmark": "ingest",
            "backend": args.backend,
            "clients": args.clients,
            "server_workers": args.workers,
            "uploads": figures["uploads"],
            "uploads_per_s": round(figures["uploads_per_s"], 1),
            "baseline_per_s": round(figures["baseline_per_s"], 1),
            "ratio": round(ratio, 3),
            "p50_ms": round(figures["p50_ms"], 1),
            "p95_ms": round(figures["p95_ms"], 1),
        }
    )


if __name__ == "__main__":
    main()
