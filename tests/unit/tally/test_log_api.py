"""The log's HTTP API on SQLite, read the way a verifier would read it."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from services.tally.log_api import log_router
from shared.audit.checkpoint import Checkpoint
from shared.audit.cosignature import CosignatureSigner
from shared.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from shared.audit.note import open_note
from shared.audit.runtime import LogState
from shared.audit.sequencer import Sequencer
from shared.db.engine import Database
from shared.web import install_error_handlers
from tests.unit.audit.helpers import add_events, log_config

WITNESS = CosignatureSigner.generate("witness.test/w1")


@pytest.fixture
async def log_app(sqlite_db: Database) -> AsyncIterator[tuple[httpx.AsyncClient, Sequencer]]:
    config = log_config(witnesses=(WITNESS.verifier(),))
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(log_router)
    sequencer = Sequencer(sqlite_db, config)
    app.state.log = LogState(sqlite_db, config, sequencer)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://log") as client:
        yield client, sequencer


async def _grow(db: Database, seq: Sequencer, n: int, start: int = 0) -> None:
    await add_events(db, n, start=start)
    await seq.integrate_all()
    await seq.checkpoint()


async def test_entries_and_proofs_verify_against_the_checkpoint(
    log_app: tuple[httpx.AsyncClient, Sequencer], sqlite_db: Database
) -> None:
    client, seq = log_app
    await _grow(sqlite_db, seq, 12)
    note = (await client.get("/log/checkpoint")).text
    cp = Checkpoint.parse(open_note(note, [seq.config.signer.verifier()]).text)
    assert cp.size == 12

    r = await client.get("/log/entries", params={"start": 0, "end": 12})
    assert r.headers["content-type"] == "application/x-ndjson"
    lines = r.content.split(b"\n")
    assert lines[-1] == b"" and len(lines) == 13
    entries = lines[:-1]

    for i, entry in enumerate(entries):
        proof = (await client.get("/log/proof/inclusion", params={"index": i})).json()
        assert proof["tree_size"] == 12
        hashes = [base64.b64decode(p) for p in proof["proof"]]
        verify_inclusion(i, 12, leaf_hash(entry), hashes, cp.root)
    by_hash = await client.get(
        "/log/proof/inclusion", params={"hash": hashlib.sha256(entries[5]).hexdigest()}
    )
    assert by_hash.json()["index"] == 5
    assert (await client.get("/log/entries/5")).content == entries[5]

    old_root = cp.root
    await _grow(sqlite_db, seq, 9, start=12)
    new = Checkpoint.parse(
        open_note((await client.get("/log/checkpoint")).text, [seq.config.signer.verifier()]).text
    )
    r = await client.get("/log/proof/consistency", params={"size1": 12})
    body = r.json()
    assert (body["size1"], body["size2"]) == (12, 21)
    verify_consistency(12, 21, [base64.b64decode(p) for p in body["proof"]], old_root, new.root)


async def test_cosignatures_from_known_witnesses_are_served(
    log_app: tuple[httpx.AsyncClient, Sequencer], sqlite_db: Database
) -> None:
    client, seq = log_app
    await _grow(sqlite_db, seq, 3)
    note = (await client.get("/log/checkpoint")).text
    text = note.split("\n\n")[0] + "\n"
    line = WITNESS.cosign(text, 1_800_000_000).line()
    r = await client.post("/log/cosignatures", json={"size": 3, "cosignature": line})
    assert r.status_code == 204
    served = (await client.get("/log/checkpoint")).text
    assert served == note + line
    opened = open_note(served, [seq.config.signer.verifier(), WITNESS.verifier()])
    assert len(opened.verified) == 2

    # The log grows past what the witness saw: a client that needs its cosignature asks for it.
    await _grow(sqlite_db, seq, 2, start=3)
    latest = (await client.get("/log/checkpoint")).text
    assert latest.startswith(f"{seq.config.origin}\n5\n")
    witnessed = await client.get("/log/checkpoint", params={"cosigned_by": [WITNESS.name]})
    assert witnessed.text == note + line
    nobody = await client.get("/log/checkpoint", params={"cosigned_by": ["stranger.test/w"]})
    assert nobody.status_code == 404

    stranger = CosignatureSigner.generate("stranger.test/w")
    r = await client.post(
        "/log/cosignatures", json={"size": 3, "cosignature": stranger.cosign(text, 1).line()}
    )
    assert r.status_code == 403
    bad = WITNESS.cosign("other\n", 1).line()
    r = await client.post("/log/cosignatures", json={"size": 3, "cosignature": bad})
    assert r.status_code == 422
    assert r.json()["error"] == "Unprocessable"


async def test_tps_history_and_refusals(
    log_app: tuple[httpx.AsyncClient, Sequencer], sqlite_db: Database
) -> None:
    client, seq = log_app
    assert (await client.get("/log/checkpoint")).status_code == 404
    await add_events(sqlite_db, 2, tps="1708042001001")
    await _grow(sqlite_db, seq, 3, start=2)
    history = (await client.get("/log/tps/1708042001001")).json()
    assert [e["index"] for e in history["entries"]] == [0, 1]
    for e in history["entries"]:
        assert hashlib.sha256(e["entry"].encode()).hexdigest() == e["entry_sha256"]
    assert (await client.get("/log/tps/17080")).status_code == 422
    assert (await client.get("/log/entries", params={"start": 3, "end": 3})).status_code == 400
    r = await client.get("/log/proof/inclusion", params={"index": 1, "size": 99})
    assert r.status_code == 400
    assert (await client.get("/log/proof/inclusion", params={"index": 9})).status_code == 404


async def test_the_key_is_served(log_app: tuple[httpx.AsyncClient, Sequencer]) -> None:
    client, seq = log_app
    assert (await client.get("/log/key")).text == seq.config.signer.vkey() + "\n"
