"""The ending of every fault test: nothing acknowledged to a client was lost.

    await assert_nothing_lost(db, store, receipts)

First it finishes the work the fault interrupted, in-process: an OCR worker reads every queued
page (waiting out the lease of a worker that was killed holding one), then a sequencer
integrates every pending audit event and signs a checkpoint. Then `shared.durability` checks
each acknowledged photo (object re-hashed, row, photo and reading events sequenced and inside
the signed checkpoint, one reading, one automatic acceptance when read as accepted, the newest
acceptance of its page counted), and a recount of `acceptances` must equal the running totals.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from typing import Any

from services.ocr.reader.classifier import default_classifier
from services.ocr.worker import Worker
from services.tally.results.recompute import recompute
from shared.audit.config import LogConfig
from shared.audit.note import Ed25519Signer
from shared.audit.sequencer import Sequencer
from shared.db.engine import Database, database_from_settings
from shared.durability import find_losses, pending_work
from shared.settings import Settings
from shared.storage import ObjectStore, open_store

LOG_ORIGIN = "sirekap.test/faults"


def throwaway_log_config() -> LogConfig:
    """A log key of the test's own: the checkpoint it signs is verified with it."""
    return LogConfig(origin=LOG_ORIGIN, signer=Ed25519Signer.generate(LOG_ORIGIN))


async def read_every_page(db: Database, store: ObjectStore, *, timeout_s: float = 90) -> int:
    """Run an OCR worker until no job is queued or running; returns how many jobs it ran.

    A job leased by a worker that died becomes claimable when its lease runs out; a job that
    failed waits for its retry time: both are waited for, up to `timeout_s`."""
    worker = Worker(db, store, default_classifier(), "nothing-lost")
    ran = 0
    deadline = time.monotonic() + timeout_s
    while True:
        if await worker.run_once():
            ran += 1
            continue
        jobs, _ = await pending_work(db)
        if not jobs:
            return ran
        if time.monotonic() > deadline:
            raise AssertionError(f"{jobs} OCR jobs still queued or running after {timeout_s} s")
        await asyncio.sleep(0.1)


async def sequence_and_sign(db: Database, config: LogConfig) -> int:
    """Integrate every pending event and sign a checkpoint of the result; returns its size."""
    sequencer = Sequencer(db, config, holder="nothing-lost")
    await sequencer.integrate_all()
    return (await sequencer.checkpoint()).size


async def assert_nothing_lost(
    db: Database,
    store: ObjectStore,
    receipts: Iterable[Mapping[str, Any]],
    *,
    readings: bool = True,
    log: LogConfig | None = None,
) -> None:
    """Finish the interrupted work, then fail listing every acknowledged photo missing anything.

    `readings=False` for a test whose photos are not forms (no reading is required then).
    `log`: the log's configuration when the test runs its own sequencer (else a throwaway key).
    """
    receipts = list(receipts)
    assert receipts, "a fault test must end with at least one acknowledged photo"
    if readings:
        await read_every_page(db, store)
    log = log or throwaway_log_config()
    await sequence_and_sign(db, log)
    losses = await find_losses(
        db, store, receipts, readings=readings, log_verifier=log.signer.verifier()
    )
    recount = await recompute(db)
    assert not losses, "acknowledged but lost:\n" + "\n".join(map(str, losses))
    assert recount.equal, f"running totals differ from a recount: {recount.mismatches[:5]}"


async def assert_nothing_lost_in(
    settings: Settings, receipts: Iterable[Mapping[str, Any]], **kwargs: Any
) -> None:
    """`assert_nothing_lost` on the database and object store `settings` name."""
    db = database_from_settings(settings)
    store = await open_store(settings)
    try:
        await assert_nothing_lost(db, store, receipts, **kwargs)
    finally:
        await store.close()
        await db.dispose()
