"""The commands as their users run them: a log served over real HTTP, `sirekap witness run`
cosigning it, and `sirekap audit verify` checking everything, first clean, then rewritten."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import update
from typer.testing import CliRunner

from services.tally.log_api import log_router
from shared.audit.config import LogConfig, load_or_create_key_file
from shared.audit.cosignature import CosignatureSigner
from shared.audit.note import Ed25519Signer
from shared.audit.runtime import LogState
from shared.audit.sequencer import Sequencer
from shared.db.engine import open_database
from shared.db.migrate import upgrade
from shared.db.tables.events import AuditEvent
from shared.web import install_error_handlers
from sirekap.commands import audit, witness
from tests.unit.audit.helpers import add_events

ORIGIN = "sirekap.e2e/log"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _populate(url: str, config: LogConfig, n: int, start: int = 0) -> None:
    db = open_database(url)
    try:
        await add_events(db, n, start=start)
        seq = Sequencer(db, config)
        await seq.integrate_all()
        await seq.checkpoint()
    finally:
        await db.dispose()


def _app(url: str, config: LogConfig) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = open_database(url)
        app.state.log = LogState(db, config)
        yield
        await db.dispose()

    app = FastAPI(lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(log_router)
    return app


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str, LogConfig, Path]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'log.db'}"
    upgrade(url)
    witness_key = tmp_path / "w1.key"
    cosigner = CosignatureSigner.from_note_signer(load_or_create_key_file(witness_key, "w.e2e/1"))
    config = LogConfig(
        origin=ORIGIN, signer=Ed25519Signer.generate(ORIGIN), witnesses=(cosigner.verifier(),)
    )
    asyncio.run(_populate(url, config, 20))
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(_app(url, config), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(3000):  # wait until it listens (bounded by attempts, not by a clock)
        if server.started:
            break
        time.sleep(0.01)
    assert server.started
    yield f"http://127.0.0.1:{port}", url, config, witness_key
    server.should_exit = True
    thread.join()


def test_witness_then_audit_over_http(
    served: tuple[str, str, LogConfig, Path], tmp_path: Path
) -> None:
    base, url, config, witness_key = served
    runner = CliRunner()
    log_vkey = config.signer.vkey()
    witness_vkey = config.witnesses[0].vkey()
    witness_args = ["run", base, "--log-key", log_vkey, "--key-file", str(witness_key)]
    witness_args += ["--state", str(tmp_path / "w1.json"), "--once"]
    result = runner.invoke(witness.app, witness_args)
    assert result.exit_code == 0, result.output
    assert "cosigned tree size 20" in result.output

    audit_args = ["verify", base, "--log-key", log_vkey, "--witness-key", witness_vkey]
    # This server is a bare log, with no tally totals to recount against.
    audit_args += ["--state", str(tmp_path / "audit.json"), "--no-recount"]
    result = runner.invoke(audit.app, audit_args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["ok"] and summary["size"] == 20 and summary["entries_checked"] == 20

    # The operator quietly edits an old entry, then the log grows and is re-signed.
    async def tamper() -> None:
        db = open_database(url)
        async with db.transaction() as session:
            await session.execute(
                update(AuditEvent).where(AuditEvent.log_index == 3).values(body=b"{}")
            )
        await db.dispose()

    asyncio.run(tamper())
    asyncio.run(_populate(url, config, 5, start=20))
    # The witness has not seen size 25 yet: the audit takes the newest witnessed checkpoint.
    result = runner.invoke(audit.app, audit_args)
    assert result.exit_code == 1
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["size"] == 20
    log_checks = {f["check"] for f in summary["findings"] if f["culprit"] == "log"}
    assert {"history-rewritten", "root-mismatch"} <= log_checks
    # The next entry of that TPS cites the original bytes, so its chain breaks too.
    assert {f["check"] for f in summary["findings"] if f["culprit"] != "log"} == {"broken-chain"}

    # The tree itself was not touched, so the witness rightly cosigns its growth; only a
    # verifier that hashes the entries sees that an entry no longer matches its leaf.
    result = runner.invoke(witness.app, witness_args)
    assert result.exit_code == 0, result.output
    result = runner.invoke(audit.app, audit_args)
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert (result.exit_code, summary["size"]) == (1, 25)
    assert "root-mismatch" in {f["check"] for f in summary["findings"] if f["culprit"] == "log"}
