"""Every fault scenario under a steady upload load, against the real components.

    python -m benchmarks.faults

PostgreSQL (its real server, restarted by a scenario), moto's S3 server behind a TCP proxy that
can cut it off or make it answer "storage full", and each service as its own process (ingest,
tally, an OCR worker, the log sequencer), killed with SIGKILL by the scenarios that say so.
Load: KPPS clients uploading real form photos continuously with the reference client.

At the end, every photo acknowledged to a client must have its object (with the right
SHA-256), its submission row, its audit entry (sequenced into the log), one reading, and, when
the reading was accepted automatically, exactly one acceptance in the tally, the newest of its
page counted (`shared.durability`, the check the fault tests in `make test` end with too).
Ends with one JSON line: scenarios, survived, acknowledged, lost, server_errors (5xx other
than the 503s answered while a dependency was down).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from benchmarks.support import print_result
from clients.kpps.client import Backoff, KppsClient, UploadRefused, enroll
from clients.kpps.profile import Profile
from shared.db.engine import open_database
from shared.durability import find_losses, wait_until_settled
from shared.forms.generate import generate_photo
from shared.reference.regions import villages_in
from shared.reference.tps import generate_tps
from shared.storage import S3ObjectStore
from standins.ports import free_port, wait_for_port
from standins.postgres import fresh_pg_database
from standins.s3 import moto_s3

SCOPE = "17.08.04"
SIREKAP = [sys.executable, "-m", "sirekap"]
_FULL_BODY = (
    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>XMinioStorageFull</Code>"
    b"<Message>Storage backend has reached its minimum free drive threshold.</Message></Error>"
)
STORAGE_FULL = (
    b"HTTP/1.1 507 Insufficient Storage\r\nContent-Type: application/xml\r\n"
    + f"Content-Length: {len(_FULL_BODY)}\r\nConnection: close\r\n\r\n".encode()
    + _FULL_BODY
)


class S3Proxy:
    """TCP proxy to the S3 server; `mode` is "up", "down" (refuses) or "full" (507 answers).

    Leaving "up" also cuts the connections already open, as an outage does: the storage
    client keeps its connections alive between requests, and a fault that only refused new
    ones would go unnoticed on a warm pool."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._mode = "up"
        self._open: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        self._mode = mode
        if mode != "up":
            for writer in list(self._open):
                writer.transport.abort()
            self._open.clear()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "down":
            writer.transport.abort()
            return
        if self.mode == "full":
            with contextlib.suppress(Exception):
                await asyncio.wait_for(reader.read(65536), 2)
                writer.write(STORAGE_FULL)
                await writer.drain()
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._open.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.close()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            self._open.difference_update((writer, up_writer))


@dataclass
class Load:
    acknowledged: dict[str, dict[str, Any]] = field(default_factory=dict)  # submission id → receipt
    server_errors: int = 0
    unavailable: int = 0
    failures: int = 0
    last_success: float = 0.0
    stop: bool = False


class CountingTransport(httpx.AsyncBaseTransport):
    def __init__(self, load: Load) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.load = load

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if response.status_code == 503:
            self.load.unavailable += 1
        elif response.status_code >= 500:
            self.load.server_errors += 1
            body = (await response.aread())[:300]
            print(
                f"  5xx: {request.method} {request.url.path} {response.status_code} {body!r}",
                file=sys.stderr,
            )
        return response


@dataclass
class Services:
    env: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    argv: dict[str, list[str]] = field(default_factory=dict)

    def start(self, name: str, argv: list[str]) -> None:
        self.argv[name] = argv
        # A session of its own, so SIGKILL reaches the service and its worker processes.
        self.procs[name] = subprocess.Popen(argv, env=self.env, start_new_session=True)

    def kill(self, name: str) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.procs[name].pid, signal.SIGKILL)
        self.procs[name].wait()

    def restart(self, name: str) -> None:
        self.start(name, self.argv[name])

    def stop_all(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def restart_postgres() -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True
    )


def retake(photo: bytes, n: int) -> bytes:
    """The same form photographed again: a distinct, valid JPEG (a comment segment differs)."""
    comment = f"retake-{n:08d}".encode()
    return photo[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + photo[2:]


async def upload_loop(client: KppsClient, photos: list[tuple[int, bytes]], load: Load) -> None:
    """Steady load: every upload a new photo (a retake), half a second apart per client."""
    rng = random.Random(client.profile.tps)
    n = 0
    while not load.stop:
        page, photo = rng.choice(photos)
        n += 1
        photo = retake(photo, n) if n > len(photos) else photo
        await asyncio.sleep(0.5)
        try:
            receipt = await client.upload(photo, contest="PPWP", page=page)
        except (UploadRefused, ConnectionError, httpx.HTTPError):
            load.failures += 1
            await asyncio.sleep(0.5)
            continue
        load.acknowledged[str(receipt["submission_id"])] = receipt
        load.last_success = time.monotonic()


async def recovered(load: Load, since: float, timeout_s: float = 60) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if load.last_success > since:
            return True
        await asyncio.sleep(0.2)
    return False


async def check_everything(url: str, store: S3ObjectStore, load: Load) -> int:
    """Acknowledged photos missing anything (object, row, sequenced entry, reading, acceptance,
    the counted page): the check of `shared.durability`, once the services have caught up."""
    db = open_database(url)
    try:
        await wait_until_settled(db, timeout_s=600)
        losses = await find_losses(db, store, load.acknowledged.values())
    finally:
        await db.dispose()
    for loss in losses:
        print(f"  LOST {loss}", file=sys.stderr)
    return len({loss.submission_id for loss in losses})


async def run(args: argparse.Namespace) -> dict[str, Any]:
    url = await fresh_pg_database("sirekap_bench_faults")
    with moto_s3() as endpoint, tempfile.TemporaryDirectory() as tmp:
        proxy = S3Proxy(int(endpoint.split(":")[1]))
        await proxy.start()
        env = {
            **os.environ,
            "SIREKAP_DATA_DIR": tmp,
            "SIREKAP_DATABASE_URL": url,
            "SIREKAP_STORAGE": "s3",
            "SIREKAP_S3_ENDPOINT": f"127.0.0.1:{proxy.port}",
            "SIREKAP_S3_ACCESS_KEY": "bench",
            "SIREKAP_S3_SECRET_KEY": "bench",
            "SIREKAP_S3_BUCKET": "faults",
            "SIREKAP_AUTH_SECRET": "f" * 48,
            "SIREKAP_LOG_LEASE_TTL_S": "3",
            "OMP_THREAD_LIMIT": "1",
        }
        for command in (["db", "upgrade"], ["regions", "load", "--scope", SCOPE]):
            await asyncio.to_thread(
                subprocess.run, [*SIREKAP, *command], env=env, check=True, capture_output=True
            )
        services = Services(env)
        ingest_port, tally_port = free_port(), free_port()
        services.start("ingest", [*SIREKAP, "ingest", "serve", "--port", str(ingest_port)])
        services.start("tally", [*SIREKAP, "tally", "serve", "--port", str(tally_port)])
        services.start("ocr", [*SIREKAP, "ocr", "work", "--processes", "1"])
        services.start("sequencer", [*SIREKAP, "log", "sequence"])
        load = Load()
        try:
            # In a thread: this loop also runs the S3 proxy the services talk to while starting.
            await asyncio.to_thread(wait_for_port, ingest_port, 180)
            await asyncio.to_thread(wait_for_port, tally_port, 180)
            return await scenarios(args, env, services, proxy, load, url, endpoint, ingest_port)
        finally:
            load.stop = True
            services.stop_all()


async def scenarios(
    args: argparse.Namespace,
    env: dict[str, str],
    services: Services,
    proxy: S3Proxy,
    load: Load,
    url: str,
    endpoint: str,
    ingest_port: int,
) -> dict[str, Any]:
    server = f"http://127.0.0.1:{ingest_port}"
    tps = list(generate_tps(villages_in(SCOPE)))[: args.clients]
    print(f"preparing {len(tps)} KPPS clients and their photos …")
    from services.ingest.enrolment import issue_code

    db = open_database(url)
    profiles: list[Profile] = []
    for t in tps:
        async with db.transaction() as session:
            code, _ = await issue_code(session, tps_code=t.code, issued_by="bench", ttl_s=3600)
        profiles.append(await enroll(server, t.code, code))
    await db.dispose()
    photos = {
        p.tps: [
            (page, generate_photo(p.tps, "PPWP", page, None, "clean", seed, "eval")[0])
            for page in (1, 2)
            for seed in (1, 2)
        ]
        for p in profiles
    }
    http = httpx.AsyncClient(base_url=server, timeout=30, transport=CountingTransport(load))
    clients = [
        KppsClient(
            p, http, chunk_size=256 * 1024, backoff=Backoff(base_s=0.2, cap_s=2.0, attempts=40)
        )
        for p in profiles
    ]
    tasks = [asyncio.create_task(upload_loop(c, photos[c.profile.tps], load)) for c in clients]
    await asyncio.sleep(args.warmup_s)

    async def ocr_worker_sigkill() -> None:
        services.kill("ocr")
        await asyncio.sleep(1)
        services.restart("ocr")

    async def sequencer_sigkill() -> None:
        services.kill("sequencer")
        await asyncio.sleep(1)
        services.restart("sequencer")

    async def postgres_restart() -> None:
        await asyncio.to_thread(restart_postgres)

    async def object_store_unreachable() -> None:
        proxy.mode = "down"
        await asyncio.sleep(args.outage_s)
        proxy.mode = "up"

    async def object_store_full() -> None:
        proxy.mode = "full"
        await asyncio.sleep(args.outage_s)
        proxy.mode = "up"

    async def ingest_sigkill() -> None:
        services.kill("ingest")
        await asyncio.sleep(1)
        services.restart("ingest")
        await asyncio.to_thread(wait_for_port, ingest_port, 180)

    async def same_photo_twice_at_once() -> None:
        page, photo = photos[clients[0].profile.tps][0]
        twin = KppsClient(clients[0].profile, http)
        receipts = await asyncio.gather(
            clients[0].upload_single(photo, contest="PPWP", page=page),
            twin.upload_single(photo, contest="PPWP", page=page),
        )
        if receipts[0]["submission_id"] != receipts[1]["submission_id"]:
            raise AssertionError("one photo became two submissions")
        for receipt in receipts:
            load.acknowledged[str(receipt["submission_id"])] = receipt

    plan: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("ocr_worker_sigkill", ocr_worker_sigkill),
        ("sequencer_sigkill", sequencer_sigkill),
        ("postgres_restart", postgres_restart),
        ("object_store_unreachable", object_store_unreachable),
        ("object_store_full", object_store_full),
        ("ingest_sigkill", ingest_sigkill),
        ("same_photo_twice_at_once", same_photo_twice_at_once),
    ]
    survived = 0
    for name, scenario in plan:
        errors_before = load.server_errors
        started = time.monotonic()
        try:
            await scenario()
            ok = await recovered(load, time.monotonic())
        except Exception as exc:  # a scenario that breaks is a scenario not survived
            print(f"  {name}: {exc!r}", file=sys.stderr)
            ok = False
        ok = ok and load.server_errors == errors_before
        survived += ok
        print(f"  {name:28} {'survived' if ok else 'FAILED'} ({time.monotonic() - started:.1f} s)")
        await asyncio.sleep(args.between_s)
    load.stop = True
    await asyncio.gather(*tasks)
    await http.aclose()
    store = S3ObjectStore(
        endpoint=endpoint, access_key="bench", secret_key="bench", bucket="faults"
    )
    lost = await check_everything(url, store, load)
    return {
        "benchmark": "faults",
        "scenarios": len(plan),
        "survived": survived,
        "acknowledged": len(load.acknowledged),
        "lost": lost,
        "server_errors": load.server_errors,
        "unavailable_503": load.unavailable,
        "client_gave_up": load.failures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--warmup-s", type=float, default=5)
    parser.add_argument("--outage-s", type=float, default=4)
    parser.add_argument("--between-s", type=float, default=3)
    result = asyncio.run(run(parser.parse_args()))
    print(
        f"scenarios survived {result['survived']}/{result['scenarios']}, "
        f"{result['acknowledged']} acknowledged, {result['lost']} lost, "
        f"{result['server_errors']} server errors"
    )
    print_result(result)


if __name__ == "__main__":
    main()
