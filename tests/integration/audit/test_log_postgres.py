"""The log on real PostgreSQL: concurrent writers, competing sequencers, lease takeover."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from shared.audit import store
from shared.audit.cosignature import CosignatureSigner
from shared.audit.merkle import MemoryTree, leaf_hash, verify_consistency, verify_inclusion
from shared.audit.publisher import accept_cosignature, served_checkpoint
from shared.audit.sequencer import Sequencer, integrate_batch, take_lease
from shared.db.engine import Database
from shared.db.tables.events import AuditEvent
from tests.unit.audit.helpers import add_events, log_config

pytestmark = pytest.mark.postgres


async def test_two_sequencers_and_writers_never_fork(pg_db: Database) -> None:
    """Two sequencers racing (as if a lease were lost mid-batch) while writers commit: every
    event gets exactly one index, the indices are contiguous, the root is the recomputed one."""
    config = log_config(batch_size=13)
    writers = [add_events(pg_db, 40, start=i * 40, tps=f"17080420010{i:02d}") for i in range(5)]

    async def sequence(holder: str) -> None:
        seq = Sequencer(pg_db, config, holder=holder)
        for _ in range(60):
            await seq.integrate_once()
            await asyncio.sleep(0)

    await asyncio.gather(*writers, sequence("a"), sequence("b"))
    await Sequencer(pg_db, config).integrate_all()
    async with pg_db.reading() as session:
        indices = list(
            (
                await session.execute(select(AuditEvent.log_index).order_by(AuditEvent.log_index))
            ).scalars()
        )
        bodies = list(
            (
                await session.execute(select(AuditEvent.body).order_by(AuditEvent.log_index))
            ).scalars()
        )
        head = await store.tree_head(session)
    assert indices == list(range(200))
    expected = MemoryTree()
    for body in bodies:
        expected.append_entry(bytes(body))
    assert (head.size, head.root) == (200, expected.root())


async def test_proofs_and_checkpoints_on_postgres(pg_db: Database) -> None:
    seq = Sequencer(pg_db, log_config(batch_size=50))
    await add_events(pg_db, 120)
    await seq.integrate_all()
    first = await seq.checkpoint()
    await add_events(pg_db, 37, start=120)
    await seq.integrate_all()
    second = await seq.checkpoint()
    async with pg_db.reading() as session:
        proof = await store.consistency_proof(session, first.size, second.size)
        verify_consistency(first.size, second.size, proof, first.root, second.root)
        entry = (await store.entries(session, 77, 78))[0]
        proof = await store.inclusion_proof(session, 77, second.size)
        verify_inclusion(77, second.size, leaf_hash(entry.body), proof, second.root)


async def test_a_dead_holders_lease_is_taken_over(pg_db: Database) -> None:
    async with pg_db.transaction() as session:
        # Long enough that a loaded machine still asks again while the lease is live.
        assert await take_lease(session, holder="dead", ttl_s=2)
    async with pg_db.transaction() as session:
        assert not await take_lease(session, holder="alive", ttl_s=30)
    await asyncio.sleep(2.1)  # the holder never renews
    async with pg_db.transaction() as session:
        assert await take_lease(session, holder="alive", ttl_s=30)


async def test_nothing_pending_is_a_no_op(pg_db: Database) -> None:
    async with pg_db.transaction() as session:
        assert await integrate_batch(session, 100) == 0
        count = await session.scalar(select(func.count()).select_from(AuditEvent))
    assert count == 0


async def test_cosignatures_on_postgres(pg_db: Database) -> None:
    witness = CosignatureSigner.generate("witness.test/pg")
    seq = Sequencer(pg_db, log_config())
    await add_events(pg_db, 4)
    await seq.integrate_all()
    first = await seq.checkpoint()
    text = first.note.split("\n\n")[0] + "\n"
    line = witness.cosign(text, 1_800_000_000).line()
    async with pg_db.transaction() as session:
        await accept_cosignature(session, size=4, line=line, witnesses=[witness.verifier()])
    await add_events(pg_db, 2, start=4)
    await seq.integrate_all()
    await seq.checkpoint()
    async with pg_db.reading() as session:
        assert (await served_checkpoint(session)).startswith(f"{seq.config.origin}\n6\n")
        witnessed = await served_checkpoint(session, cosigned_by=[witness.name])
    assert witnessed == first.note + line
