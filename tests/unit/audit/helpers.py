"""Small builders shared by the audit-log tests."""

from __future__ import annotations

from shared.audit.config import LogConfig
from shared.audit.note import Ed25519Signer
from shared.db.engine import Database
from shared.events import record_event

ORIGIN = "sirekap.test/log"


def log_config(**overrides: object) -> LogConfig:
    base: dict[str, object] = {
        "origin": ORIGIN,
        "signer": Ed25519Signer.generate(ORIGIN),
        "batch_size": 7,  # small, so tests cross batch boundaries
        "checkpoint_interval_s": 0.0,
        "poll_interval_s": 0.01,
    }
    base.update(overrides)
    return LogConfig(**base)  # type: ignore[arg-type]


async def add_events(db: Database, n: int, *, start: int = 0, tps: str = "1708042001003") -> None:
    async with db.transaction() as session:
        for i in range(start, start + n):
            await record_event(
                session,
                kind="test",  # not "photo": the auditor would rightly want a device signature
                tps_code=tps,
                contest="PPWP",
                payload={"photo_sha256": f"{i:064x}", "page": 1},
            )
