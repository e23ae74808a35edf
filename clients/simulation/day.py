"""Play a kabupaten's election day against running services, over HTTP, as its users would.

KPPS clients photograph and upload every page (through the reference client, some over a
link that drops), OCR workers read them, a simulated PPS official reviews what the reader
handed to a person (looking at the ground truth, as a person looks at the paper), and at the
end every total at every level is compared with the truth and the auditor's verifier runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from clients.kpps.client import Backoff, KppsClient, enroll
from clients.simulation.plan import TpsPlan, expected_totals
from clients.simulation.stack import Stack
from shared.forms.generate import generate_photo

OFFICIAL_PASSWORD = "simulasi-pemilu-2024"
PROGRESS_EVERY_S = 15.0
REVIEW_REASON = "Diperiksa terhadap formulir fisik / checked against the paper form"


@dataclass
class Stats:
    uploads: int = 0
    upload_latencies: list[float] = field(default_factory=list)
    reviewed: int = 0
    refused: int = 0
    first_upload_at: float | None = None
    uploads_done_at: float | None = None


class FlakyTransport(httpx.AsyncBaseTransport):
    """A rural link: loses a share of requests before, and of answers after, the server."""

    def __init__(self, inner: httpx.AsyncBaseTransport, rng: random.Random) -> None:
        self.inner, self.rng = inner, rng

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        roll = self.rng.random()
        if roll < 0.15:
            raise httpx.ConnectError("signal lost")
        response = await self.inner.handle_async_request(request)
        if roll > 0.85:
            await response.aread()
            raise httpx.ReadError("signal lost before the answer arrived")
        return response


def _photo(job: tuple[Any, ...]) -> bytes:
    tps, contest, page, truth, difficulty, seed, bad = job
    jpeg, _ = generate_photo(tps, contest, page, truth, difficulty, seed, "eval", bad=bad)
    return jpeg


async def _token(http: httpx.AsyncClient, username: str) -> str:
    response = await http.post(
        "/api/v1/auth/login", json={"username": username, "password": OFFICIAL_PASSWORD}
    )
    response.raise_for_status()
    return str(response.json()["token"])


class Day:
    def __init__(
        self,
        stack: Stack,
        plans: list[TpsPlan],
        *,
        clients: int,
        difficulty: str,
        seed: int,
        username: str,
        progress_every_s: float = PROGRESS_EVERY_S,
    ) -> None:
        self.stack, self.plans, self.clients = stack, plans, clients
        self.progress_every_s = progress_every_s
        self.difficulty, self.seed, self.username = difficulty, seed, username
        self.stats = Stats()
        self.ingest_cycle = itertools.cycle(stack.ingest_urls)  # a simple round-robin
        self.pool = ProcessPoolExecutor(max_workers=1)

    async def photo(self, *job: Any) -> bytes:
        return await asyncio.get_running_loop().run_in_executor(self.pool, _photo, job)

    async def run_tps(self, plan: TpsPlan, token: str) -> None:
        server = next(self.ingest_cycle)
        rng = random.Random(f"{self.seed}:{plan.tps.code}")
        async with httpx.AsyncClient(base_url=server, timeout=60) as official:
            code = (
                await official.post(
                    "/v1/enrolment-codes",
                    json={"tps": plan.tps.code},
                    headers={"Authorization": f"Bearer {token}"},
                )
            ).json()["code"]
        profile = await enroll(server, plan.tps.code, code, label="sim")
        transport: httpx.AsyncBaseTransport = httpx.AsyncHTTPTransport(retries=0)
        if "flaky_link" in plan.mishaps:
            transport = FlakyTransport(transport, rng)
        async with httpx.AsyncClient(base_url=server, timeout=60, transport=transport) as http:
            client = KppsClient(
                profile,
                http,
                chunk_size=128 * 1024,
                backoff=Backoff(base_s=0.05, cap_s=1.0, attempts=20, rng=rng),
            )
            for contest, truth in plan.truths.items():
                for page in range(1, plan.pages[contest] + 1):
                    await self.upload_page(client, plan, contest, page, truth, rng)

    async def upload_page(
        self,
        client: KppsClient,
        plan: TpsPlan,
        contest: str,
        page: int,
        truth: Any,
        rng: random.Random,
    ) -> None:
        first_bad = None
        if page == 1:
            for mishap, bad in (
                ("blurred_retake", "blurred"),
                ("wrong_page_first", "wrong_page"),
                ("other_tps_first", "other_tps"),
            ):
                if mishap in plan.mishaps:
                    first_bad = bad
        if first_bad is not None:
            bad_photo = await self.photo(
                plan.tps.code, contest, page, truth, self.difficulty, self.seed, first_bad
            )
            await self.send(client, bad_photo, contest, page)
        photo = await self.photo(
            plan.tps.code, contest, page, truth, self.difficulty, self.seed, None
        )
        await self.send(client, photo, contest, page)
        if "retry_after_success" in plan.mishaps and page == 1:
            await self.send(client, photo, contest, page)

    async def send(self, client: KppsClient, photo: bytes, contest: str, page: int) -> None:
        start = time.perf_counter()
        if self.stats.first_upload_at is None:
            self.stats.first_upload_at = time.monotonic()
        await client.upload(photo, contest=contest, page=page)
        self.stats.upload_latencies.append(time.perf_counter() - start)
        self.stats.uploads += 1

    async def kpps(self, token: str) -> None:
        queue: asyncio.Queue[TpsPlan] = asyncio.Queue()
        for plan in self.plans:
            queue.put_nowait(plan)

        async def worker() -> None:
            while not queue.empty():
                await self.run_tps(queue.get_nowait(), token)

        await asyncio.gather(*(worker() for _ in range(self.clients)))
        self.stats.uploads_done_at = time.monotonic()

    async def review(self, http: httpx.AsyncClient, token: str, stop: asyncio.Event) -> None:
        """The PPS official: works the review queue, reading the paper (the ground truth)."""
        truths = {p.tps.code: p.truths for p in self.plans}
        auth = {"Authorization": f"Bearer {token}"}
        while not stop.is_set():
            queue = (
                await http.get("/api/v1/review/queue", params={"limit": 200}, headers=auth)
            ).json()["items"]
            for item in queue:
                truth = truths[item["tps"]][item["contest"]]
                page = (
                    await http.get(f"/api/v1/pages/{item['tps']}/{item['contest']}/{item['page']}")
                ).json()
                keys = [f["key"] for f in page["fields"]]
                response = await http.post(
                    f"/api/v1/pages/{item['tps']}/{item['contest']}/{item['page']}/review",
                    json={
                        "submission_id": item["submission_id"],
                        "values": {k: truth.values[k] for k in keys},
                        "reason": REVIEW_REASON,
                        "expected_revision": page["revision"],
                    },
                    headers=auth,
                )
                if response.status_code == 200:
                    self.stats.reviewed += 1
            await asyncio.sleep(0.5 if not queue else 0)

    async def report_progress(
        self, http: httpx.AsyncClient, started: float, stop: asyncio.Event
    ) -> None:
        """A line on stderr every few seconds: photos sent, pages reviewed, TPS counted."""
        pages = sum(sum(plan.pages.values()) for plan in self.plans)
        scope = self.plans[0].tps.code[:2] + "." + self.plans[0].tps.code[2:4]
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), self.progress_every_s)
            counted = []
            for contest in self.plans[0].truths:
                with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
                    progress = (
                        await http.get(f"/api/v1/regions/{scope}", params={"contest": contest})
                    ).json()["progress"]
                    counted.append(f"{contest} {progress['reported']}/{len(self.plans)}")
            print(
                f"[{time.monotonic() - started:6.0f} s] photos {self.stats.uploads}"
                f" (pages {pages}) · reviewed {self.stats.reviewed} · TPS counted: "
                + ", ".join(counted),
                file=sys.stderr,
                flush=True,
            )

    async def tally_state(self, http: httpx.AsyncClient) -> tuple[bool, dict[str, Any]]:
        """Whether every total at every level equals the truth, and what differs."""
        wrong: dict[str, Any] = {}
        for contest in self.plans[0].truths:
            for code, expected in expected_totals(self.plans, contest).items():
                if len(code) == 13:
                    continue  # TPS are checked in `silent_errors`
                got = (
                    (await http.get(f"/api/v1/regions/{code}/totals", params={"contest": contest}))
                    .json()
                    .get("totals", {})
                )
                diff = {k: (got.get(k), v) for k, v in expected.items() if got.get(k) != v}
                if diff:
                    wrong[f"{contest}:{code}"] = dict(list(diff.items())[:3])
        return not wrong, wrong

    async def silent_errors(self, http: httpx.AsyncClient) -> tuple[int, int, int]:
        """Numbers accepted automatically that differ from the truth; pages auto-accepted."""
        errors = auto = pages = 0
        for plan in self.plans:
            detail = (await http.get(f"/api/v1/tps/{plan.tps.code}")).json()
            for contest, truth in plan.truths.items():
                for page in detail["contests"].get(contest, {}).get("pages", []):
                    counted = page.get("counted") or {}
                    pages += 1
                    if counted.get("source") != "auto":
                        continue
                    auto += 1
                    errors += sum(
                        1 for k, v in counted.get("values", {}).items() if truth.values.get(k) != v
                    )
        return errors, auto, pages

    async def run(self, timeout_s: float) -> dict[str, Any]:
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=self.stack.tally_url, timeout=60) as tally:
            token = await _token(tally, self.username)
            stop = asyncio.Event()
            reviewer = asyncio.create_task(self.review(tally, token, stop))
            reporter = asyncio.create_task(self.report_progress(tally, started, stop))
            await self.kpps(token)
            complete_at = None
            while time.monotonic() - started < timeout_s:
                ok, wrong = await self.tally_state(tally)
                if ok:
                    complete_at = time.monotonic()
                    break
                await asyncio.sleep(2)
            stop.set()
            await reviewer
            await reporter
            ok, wrong = await self.tally_state(tally)
            errors, auto, pages = await self.silent_errors(tally)
        self.pool.shutdown()
        verified = self.verify()
        first = self.stats.first_upload_at or started
        lat = sorted(self.stats.upload_latencies)
        upload_span = (self.stats.uploads_done_at or time.monotonic()) - first
        return {
            "stack": self.stack.kind,
            "tps": len(self.plans),
            "contests": sorted(self.plans[0].truths),
            "photos_uploaded": self.stats.uploads,
            "uploads_per_s": round(self.stats.uploads / max(upload_span, 1e-9), 2),
            "upload_p50_ms": round(statistics.median(lat) * 1000, 1) if lat else None,
            "upload_p95_ms": round(lat[int(len(lat) * 0.95) - 1] * 1000, 1) if lat else None,
            "pages_read_per_s": round(
                pages / max((complete_at or time.monotonic()) - first, 1e-9), 2
            ),
            "auto_accept_rate": round(auto / pages, 4) if pages else 0.0,
            "pages_reviewed": self.stats.reviewed,
            "silent_errors": errors,
            "seconds_to_complete_tally": round(complete_at - first, 1) if complete_at else None,
            "tally_matches_truth": ok,
            "mismatches": dict(list(wrong.items())[:5]),
            "verified": verified,
        }

    def verify(self) -> bool:
        """The auditor's verifier, run as an auditor would, after one last checkpoint."""
        self.stack.sirekap("log", "checkpoint")
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "sirekap",
                "audit",
                "verify",
                self.stack.tally_url,
                "--log-key",
                self.stack.log_vkey,
                "--photos",
                "20",
            ],
            env=self.stack.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            print(result.stdout[-3000:], result.stderr[-2000:], file=sys.stderr)
        lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
        return (
            result.returncode == 0 and bool(lines) and bool(json.loads(lines[-1]).get("ok", True))
        )
