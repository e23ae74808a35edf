"""The witness against the log API: cosigns growth, refuses a fork and keeps the evidence."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, update

from services.tally.log_api import log_router
from services.witness.state import load_state
from services.witness.witness import ForkDetected, Witness, WitnessRefusal
from shared.audit.cosignature import CosignatureSigner
from shared.audit.note import Ed25519Signer, open_note
from shared.audit.runtime import LogState
from shared.audit.sequencer import Sequencer
from shared.db.engine import Database
from shared.db.tables.events import AuditEvent
from shared.db.tables.log import LogCheckpoint, LogCosignature, LogNode, LogTree
from shared.web import install_error_handlers
from tests.unit.audit.helpers import add_events, log_config

WITNESS = CosignatureSigner.generate("witness.test/w1")


@pytest.fixture
async def setup(
    sqlite_db: Database, tmp_path: Path
) -> AsyncIterator[tuple[Witness, Sequencer, httpx.AsyncClient]]:
    config = log_config(witnesses=(WITNESS.verifier(),))
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(log_router)
    seq = Sequencer(sqlite_db, config)
    app.state.log = LogState(sqlite_db, config, seq)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://log") as client:
        witness = Witness(client, WITNESS, config.signer.verifier(), tmp_path / "w.json")
        yield witness, seq, client


async def _grow(db: Database, seq: Sequencer, n: int, start: int) -> None:
    await add_events(db, n, start=start)
    await seq.integrate_all()
    await seq.checkpoint()


async def test_witness_follows_a_growing_log(
    setup: tuple[Witness, Sequencer, httpx.AsyncClient], sqlite_db: Database
) -> None:
    witness, seq, client = setup
    await _grow(sqlite_db, seq, 5, 0)
    first = await witness.witness_once(now=1_800_000_000)
    assert (first.size, first.previous_size) == (5, None)
    await _grow(sqlite_db, seq, 6, 5)
    second = await witness.witness_once(now=1_800_000_010)
    assert (second.size, second.previous_size) == (11, 5)
    served = (await client.get("/log/checkpoint")).text
    opened = open_note(served, [seq.config.signer.verifier(), WITNESS.verifier()])
    assert {s.name for s in opened.verified} == {seq.config.origin, WITNESS.name}
    state = load_state(witness.state_path)
    assert state is not None and state.size == 11


async def test_witness_refuses_a_rewritten_history(
    setup: tuple[Witness, Sequencer, httpx.AsyncClient], sqlite_db: Database
) -> None:
    witness, seq, _client = setup
    await _grow(sqlite_db, seq, 5, 0)
    await witness.witness_once(now=1)
    # The operator wipes the log and rebuilds it with other entries, re-signing with its key.
    async with sqlite_db.transaction() as session:
        for table in (LogCosignature, LogCheckpoint, LogNode, AuditEvent):
            await session.execute(delete(table))
        await session.execute(update(LogTree).values(size=0))
    await _grow(sqlite_db, seq, 8, 100)
    with pytest.raises(ForkDetected) as caught:
        await witness.witness_once(now=2)
    assert "does not extend" in str(caught.value)
    assert caught.value.previous_note.startswith(seq.config.origin + "\n5\n")
    state = load_state(witness.state_path)
    assert state is not None and state.size == 5  # the witness still remembers the truth


async def test_witness_refuses_a_checkpoint_from_another_key(
    setup: tuple[Witness, Sequencer, httpx.AsyncClient], sqlite_db: Database
) -> None:
    witness, seq, _ = setup
    await _grow(sqlite_db, seq, 2, 0)
    impostor = Ed25519Signer.generate(seq.config.origin)
    other = Witness(witness.client, WITNESS, impostor.verifier(), witness.state_path)
    with pytest.raises(WitnessRefusal):
        await other.witness_once(now=1)
