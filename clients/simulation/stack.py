"""Start the system for a simulation: the embedded default or PostgreSQL + S3, with any number
of ingest replicas and OCR worker processes, each service its own OS process."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from standins.backend import backend_env
from standins.ports import free_port

SIREKAP = [sys.executable, "-m", "sirekap"]


@dataclass
class Stack:
    kind: str
    env: dict[str, str]
    ingest_urls: list[str]
    tally_url: str
    log_vkey: str
    data_dir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def sirekap(self, *args: str, capture: bool = True) -> str:
        result = subprocess.run(
            [*SIREKAP, *args], env=self.env, check=False, capture_output=capture, text=True
        )
        if result.returncode != 0:
            raise RuntimeError(f"sirekap {' '.join(args)} failed:\n{result.stderr[-2000:]}")
        return result.stdout if capture else ""


def _wait_ready(url: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready")


@contextmanager
def running_stack(
    kind: str,
    *,
    scope: str,
    ingest_replicas: int = 1,
    ocr_processes: int = 1,
    official: tuple[str, str, str] = ("sim-kpu", "KPU_KABKOTA", "17.08"),
    password: str = "",
) -> Iterator[Stack]:
    """Everything started, migrated, loaded and ready; stopped again on exit."""
    with (
        ExitStack() as stack,
        tempfile.TemporaryDirectory(prefix="sirekap-sim-", ignore_cleanup_errors=True) as tmp,
    ):
        data = Path(tmp)
        env = {
            **os.environ,
            "SIREKAP_DATA_DIR": str(data),
            "SIREKAP_AUTH_SECRET": secrets.token_urlsafe(48),
            "SIREKAP_ENVIRONMENT": "development",
            "OMP_THREAD_LIMIT": "1",
            # Every simulated phone and official shares 127.0.0.1, where a real day spreads
            # them over thousands of addresses: the per-address enrolment limit would only
            # measure that artefact. Per-device limits stay on.
            "SIREKAP_RATE_ENROL_ADDRESS_BURST": "0",
            "SIREKAP_RATE_UPLOAD_ADDRESS_BURST": "0",
        }
        # A line per request from every service would bury the progress lines on the console.
        env.setdefault("SIREKAP_LOG_LEVEL", "WARNING")
        env |= backend_env(kind, data, stack, name="sirekap_simulation")
        run = Stack(kind, env, [], "", "", data)
        run.sirekap("db", "upgrade")
        run.sirekap("regions", "load", "--scope", scope)
        username, role, region = official
        run.sirekap(
            "tally",
            "officials",
            "add",
            username,
            "--role",
            role,
            "--region",
            region,
            "--password",
            password,
        )
        run.log_vkey = run.sirekap("log", "key").strip()
        procs: list[tuple[list[str], str | None]] = []
        for _ in range(ingest_replicas):
            port = free_port()
            procs.append(
                ([*SIREKAP, "ingest", "serve", "--port", str(port)], f"http://127.0.0.1:{port}")
            )
        tally_port = free_port()
        procs.append(
            (
                [*SIREKAP, "tally", "serve", "--port", str(tally_port)],
                f"http://127.0.0.1:{tally_port}",
            )
        )
        procs.append(([*SIREKAP, "ocr", "work", "--processes", str(ocr_processes)], None))
        procs.append(([*SIREKAP, "log", "sequence"], None))
        for argv, _ in procs:
            process = subprocess.Popen(argv, env=env)
            run.processes.append(process)
            stack.callback(_stop, process)
        urls = [u for _, u in procs if u is not None]
        for url in urls:
            _wait_ready(url)
        run.ingest_urls = urls[:-1]
        run.tally_url = urls[-1]
        yield run


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
