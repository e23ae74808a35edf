"""`sirekap run`: the whole system on one machine, as `make run` starts it.

Prepares the embedded default (SQLite and a folder under `data/`, Kepahiang's regions and TPS,
a log key and an auth secret generated on first start and kept in the data folder), then runs
each service as its own process and restarts any that dies. Ctrl-C stops them all.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Annotated

import typer
from sqlalchemy import func, select

from services.ingest.enrolment import issue_code
from shared.db.engine import database_from_settings
from shared.db.migrate import upgrade
from shared.db.tables import Tps
from shared.reference.load import DEMO_KABUPATEN, load_reference
from shared.settings import Settings, get_settings

app = typer.Typer(help="Run the whole system on one machine.")
RESTART_BACKOFF_S = (1, 2, 5, 10, 30)
SWEEP_EVERY_S = 900  # abandoned uploads and stray chunks; orphan photos once a day


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    def start(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(self.argv, env=env)


def _secret_file(settings: Settings, name: str) -> str:
    """A secret generated on first start and kept (mode 600) in the data folder."""
    path = settings.data_dir / name
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


async def prepare(settings: Settings, scope: str) -> tuple[int, str, str]:
    """Migrate, load the demo region if empty, and issue one demo enrolment code."""
    upgrade(settings.resolved_database_url)
    db = database_from_settings(settings)
    try:
        async with db.reading() as session:
            count = await session.scalar(select(func.count()).select_from(Tps)) or 0
        if count == 0:
            count = (await load_reference(db, scope)).tps
        async with db.reading() as session:
            first = await session.scalar(select(Tps.code).order_by(Tps.code).limit(1))
        assert first is not None
        async with db.transaction() as session:
            code, _ = await issue_code(
                session, tps_code=first, issued_by="make-run", ttl_s=settings.enrolment_code_ttl_s
            )
    finally:
        await db.dispose()
    return count, first, code


def children(ocr_workers: int) -> list[Child]:
    me = [sys.executable, "-m", "sirekap"]
    return [
        Child("ingest", [*me, "ingest", "serve"]),
        Child("tally", [*me, "tally", "serve"]),
        Child("ocr", [*me, "ocr", "work", "--processes", str(ocr_workers)]),
        Child("sequencer", [*me, "log", "sequence"]),
        Child("sweeper", [*me, "ingest", "sweep", "--every", str(SWEEP_EVERY_S)]),
    ]


@app.command("run")
def run(
    scope: Annotated[str, typer.Option(help="Region to load when the database is empty")] = (
        DEMO_KABUPATEN
    ),
    ocr_workers: Annotated[int, typer.Option(help="OCR worker processes")] = 1,
) -> None:
    """Start ingest, tally, OCR workers, the log sequencer and the sweeper on the embedded
    default."""
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    # A person reads this console: one readable line per record (services default to JSON).
    env.setdefault("SIREKAP_LOG_FORMAT", "text")
    env.setdefault("SIREKAP_DATA_DIR", str(settings.data_dir.resolve()))
    env.setdefault(
        "SIREKAP_AUTH_SECRET", settings.auth_secret or _secret_file(settings, "auth_secret")
    )
    os.environ.update(env)
    get_settings.cache_clear()
    settings = get_settings()
    n_tps, tps, code = asyncio.run(prepare(settings, scope))
    procs = children(ocr_workers)
    for child in procs:
        child.start(env)
    ingest = f"http://{settings.ingest_host}:{settings.ingest_port}"
    tally = f"http://{settings.tally_host}:{settings.tally_port}"
    typer.echo(
        f"""
Sirekap is running on the embedded default ({n_tps} TPS loaded, data in {settings.data_dir}).
  ingest (KPPS uploads)      {ingest}/docs
  tally (results, review)    {tally}/docs
  dashboard                  {tally}/dashboard/
  public JSON (Sirekap 2024) {tally}/pemilu/hhcw/ppwp.json
  processes                  {", ".join(c.name for c in procs)}

Try it as a KPPS officer (a one-time enrolment code was issued for TPS {tps}):
  .venv/bin/sirekap kpps enroll --server {ingest} --tps {tps} --code {code}
  .venv/bin/sirekap kpps upload PHOTO.jpg --contest PPWP --page 1
Ctrl-C stops everything.
""",
    )
    supervise(procs, env)


def supervise(procs: list[Child], env: dict[str, str]) -> None:
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        for child in procs:
            assert child.process is not None
            if child.process.poll() is not None and not stopping:
                delay = RESTART_BACKOFF_S[min(child.restarts, len(RESTART_BACKOFF_S) - 1)]
                typer.echo(
                    f"{child.name} exited ({child.process.returncode}); restarting in {delay}s"
                )
                time.sleep(delay)
                child.restarts += 1
                child.start(env)
        time.sleep(0.5)
    for child in procs:
        if child.process and child.process.poll() is None:
            child.process.terminate()
    for child in procs:
        if child.process:
            try:
                child.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.process.kill()
