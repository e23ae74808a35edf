"""The auditor against a real log app (SQLite): a clean log passes; each kind of tampering is
caught and blamed on the right party."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI, Response
from sqlalchemy import delete, update

from clients.auditor.client import LogClient
from clients.auditor.findings import Report
from clients.auditor.verify import AuditOptions, run_audit
from services.tally.log_api import log_router
from shared.audit.cosignature import CosignatureSigner
from shared.audit.note import Ed25519Signer, raw_public_key
from shared.audit.runtime import LogState
from shared.audit.sequencer import Sequencer
from shared.db.engine import Database
from shared.db.tables.events import AuditEvent
from shared.db.tables.log import LogCheckpoint, LogCosignature, LogNode, LogTree
from shared.events import record_event
from shared.signing import UploadClaim, sign
from shared.web import install_error_handlers
from tests.unit.audit.helpers import log_config

WITNESS = CosignatureSigner.generate("witness.test/w1")
TPS = "1708042001003"


@dataclass
class World:
    client: httpx.AsyncClient
    seq: Sequencer
    db: Database
    photos: dict[str, bytes]
    device_key: Ed25519PrivateKey

    def options(self, tmp_path: Path | None = None, **kw: object) -> AuditOptions:
        base: dict[str, object] = {
            "log_key": self.seq.config.signer.verifier(),
            "witness_keys": [WITNESS.verifier()],
            "state_path": None if tmp_path is None else tmp_path / "audit.json",
            "seed": 1,
        }
        base.update(kw)
        return AuditOptions(**base)  # type: ignore[arg-type]

    async def audit(self, options: AuditOptions) -> Report:
        return await run_audit(LogClient(self.client), "http://log", options)

    async def publish(self) -> None:
        await self.seq.integrate_all()
        cp = await self.seq.checkpoint()
        text = cp.note.split("\n\n")[0] + "\n"
        line = WITNESS.cosign(text, 1_800_000_000).line()
        r = await self.client.post("/log/cosignatures", json={"size": cp.size, "cosignature": line})
        assert r.status_code == 204

    async def upload(self, page: int, *, key: Ed25519PrivateKey | None = None) -> str:
        photo = f"photo of page {page}".encode() * 10
        sha = hashlib.sha256(photo).hexdigest()
        self.photos[sha] = photo
        claim = UploadClaim("dev-1", TPS, "PPWP", page, sha, "2024-02-14T13:05:00Z")
        async with self.db.transaction() as session:
            await record_event(
                session,
                kind="photo",
                tps_code=TPS,
                contest="PPWP",
                payload={
                    "page": page,
                    "version": 1,
                    "sha256": sha,
                    "size": len(photo),
                    "content_type": "image/jpeg",
                    "device": "dev-1",
                    "device_key": raw_public_key(self.device_key.public_key()).hex(),
                    "captured_at": claim.captured_at,
                    "signature": sign(key or self.device_key, claim.signed_bytes()),
                },
            )
        return sha


@pytest.fixture
async def world(sqlite_db: Database) -> AsyncIterator[World]:
    config = log_config(witnesses=(WITNESS.verifier(),))
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(log_router)
    photos: dict[str, bytes] = {}

    @app.get("/photos/{sha256}")
    async def photo(sha256: str) -> Response:
        return Response(photos[sha256]) if sha256 in photos else Response(status_code=404)

    seq = Sequencer(sqlite_db, config)
    app.state.log = LogState(sqlite_db, config, seq)
    device_key = Ed25519PrivateKey.generate()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://log") as client:
        w = World(client, seq, sqlite_db, photos, device_key)
        async with sqlite_db.transaction() as session:
            await record_event(
                session,
                kind="device_enrolled",
                tps_code=TPS,
                contest=None,
                payload={
                    "device": "dev-1",
                    "device_key": raw_public_key(device_key.public_key()).hex(),
                    "issued_by": "pps-1",
                },
            )
        for page in (1, 2, 3):
            await w.upload(page)
        await w.publish()
        yield w


async def test_a_clean_log_passes_and_is_remembered(world: World, tmp_path: Path) -> None:
    report = await world.audit(world.options(tmp_path, photos=2))
    assert report.ok, report.human()
    assert (report.size, report.entries_checked, report.photo_signatures_checked) == (4, 4, 3)
    assert report.photos_fetched == 2
    assert report.witnesses_verified == [WITNESS.name]
    await world.upload(4)
    await world.publish()
    again = await world.audit(world.options(tmp_path))
    assert again.ok, again.human()
    assert (again.previous_size, again.size) == (4, 5)


async def test_an_edited_entry_is_blamed_on_the_log(world: World) -> None:
    async with world.db.transaction() as session:
        await session.execute(
            update(AuditEvent).where(AuditEvent.log_index == 2).values(body=b'{"forged":true}')
        )
    report = await world.audit(world.options())
    assert not report.ok
    assert "root-mismatch" in {f.check for f in report.by_culprit()["log"]}


async def test_a_rewritten_history_is_caught_by_the_state_file(
    world: World, tmp_path: Path
) -> None:
    assert (await world.audit(world.options(tmp_path))).ok
    # The operator rebuilds the log from scratch with different entries and re-signs it.
    async with world.db.transaction() as session:
        for table in (LogCosignature, LogCheckpoint, LogNode, AuditEvent):
            await session.execute(delete(table))
        await session.execute(update(LogTree).values(size=0))
    for page in (7, 8, 9, 10, 11):
        await world.upload(page)
    await world.publish()
    report = await world.audit(world.options(tmp_path))
    checks = {f.check for f in report.findings}
    assert "history-rewritten" in checks
    assert "bad-consistency-proof" in checks


async def test_a_bad_device_signature_is_blamed_on_the_device(world: World) -> None:
    await world.upload(5, key=Ed25519PrivateKey.generate())
    await world.publish()
    report = await world.audit(world.options())
    assert [f.check for f in report.by_culprit()["device:dev-1"]] == ["bad-device-signature"]
    assert set(report.by_culprit()) == {"device:dev-1"}


async def test_missing_witness_and_wrong_photo_bytes(world: World) -> None:
    other = CosignatureSigner.generate("witness.test/w2")
    for sha in world.photos:
        world.photos[sha] = b"not the photo"
    report = await world.audit(world.options(witness_keys=[other.verifier()], photos=3))
    culprits = report.by_culprit()
    assert [f.check for f in culprits["witness:witness.test/w2"]] == ["not-cosigned"]
    assert {f.check for f in culprits["photo-store"]} == {"photo-mismatch"}


async def test_a_broken_tps_chain_is_blamed_on_the_tps(world: World) -> None:
    async with world.db.transaction() as session:
        # An event whose chain does not cite its predecessor (written around record_event).
        body = b'{"contest":"PPWP","kind":"note","prev":null,"tps":"' + TPS.encode() + b'","v":1}'
        session.add(
            AuditEvent(
                kind="note",
                tps_code=TPS,
                contest="PPWP",
                body=body,
                entry_sha256=hashlib.sha256(body).hexdigest(),
            )
        )
    await world.publish()
    report = await world.audit(world.options())
    assert [f.check for f in report.by_culprit()[f"tps:{TPS}"]] == ["broken-chain"]


async def test_a_checkpoint_from_another_key_is_refused(world: World) -> None:
    impostor = Ed25519Signer.generate(world.seq.config.origin).verifier()
    report = await world.audit(world.options(log_key=impostor))
    assert [f.check for f in report.findings] == ["bad-checkpoint"]
    assert report.entries_checked == 0
