"""The sequencer and checkpoint signing on SQLite (the embedded default)."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from sqlalchemy import select, update

from shared.audit import store
from shared.audit.checkpoint import Checkpoint
from shared.audit.merkle import MemoryTree, leaf_hash, verify_consistency, verify_inclusion
from shared.audit.note import open_note
from shared.audit.publisher import LogIntegrityError
from shared.audit.sequencer import Sequencer, take_lease
from shared.db.engine import Database
from shared.db.tables.events import AuditEvent
from shared.db.tables.log import LogNode
from tests.unit.audit.helpers import add_events, log_config


async def _bodies(db: Database) -> list[bytes]:
    async with db.reading() as session:
        rows = await session.execute(select(AuditEvent.body).order_by(AuditEvent.log_index))
        return [bytes(b) for b in rows.scalars()]


async def test_batches_give_contiguous_indices_and_the_right_root(sqlite_db: Database) -> None:
    seq = Sequencer(sqlite_db, log_config())
    await add_events(sqlite_db, 10)
    assert await seq.integrate_once() == 7  # one batch
    await add_events(sqlite_db, 12, start=10)
    assert await seq.integrate_all() == 15
    async with sqlite_db.reading() as session:
        indices = await session.execute(select(AuditEvent.log_index).order_by(AuditEvent.id))
        assert list(indices.scalars()) == list(range(22))
        head = await store.tree_head(session)
    expected = MemoryTree()
    for body in await _bodies(sqlite_db):
        expected.append_entry(body)
    assert (head.size, head.root) == (22, expected.root())


async def test_proofs_from_the_database_verify(sqlite_db: Database) -> None:
    seq = Sequencer(sqlite_db, log_config())
    await add_events(sqlite_db, 37)
    await seq.integrate_all()
    bodies = await _bodies(sqlite_db)
    async with sqlite_db.reading() as session:
        for size in (1, 8, 20, 37):
            root = await store.root_at(session, size)
            for index in range(size):
                proof = await store.inclusion_proof(session, index, size)
                verify_inclusion(index, size, leaf_hash(bodies[index]), proof, root)
        for size1 in range(1, 37):
            proof = await store.consistency_proof(session, size1, 37)
            root1 = await store.root_at(session, size1)
            verify_consistency(size1, 37, proof, root1, await store.root_at(session, 37))


async def test_checkpoints_are_signed_and_extend_each_other(sqlite_db: Database) -> None:
    config = log_config()
    seq = Sequencer(sqlite_db, config)
    first = await seq.checkpoint()  # the empty tree
    assert first.size == 0
    await add_events(sqlite_db, 5)
    await seq.integrate_all()
    second = await seq.checkpoint()
    note = open_note(second.note, [config.signer.verifier()])
    cp = Checkpoint.parse(note.text)
    assert (cp.origin, cp.size, cp.root) == (config.origin, 5, second.root)
    again = await seq.checkpoint()  # nothing new: the same checkpoint, not a new signature
    assert again.note == second.note


async def test_a_rewritten_node_stops_signing(sqlite_db: Database) -> None:
    seq = Sequencer(sqlite_db, log_config())
    await add_events(sqlite_db, 6)
    await seq.integrate_all()
    await seq.checkpoint()
    # Someone edits history in the database: the subtree over leaves 0-3, which the next
    # tree's root is built on.
    async with sqlite_db.transaction() as session:
        await session.execute(
            update(LogNode)
            .where(LogNode.level == 2, LogNode.idx == 0)
            .values(hash=hashlib.sha256(b"forged").digest())
        )
    await add_events(sqlite_db, 3, start=6)
    await seq.integrate_all()
    with pytest.raises(LogIntegrityError):
        await seq.checkpoint()


async def test_only_one_live_lease_holder(sqlite_db: Database) -> None:
    async with sqlite_db.transaction() as session:
        assert await take_lease(session, holder="a", ttl_s=60)
        assert not await take_lease(session, holder="b", ttl_s=60)
        assert await take_lease(session, holder="a", ttl_s=60)  # renewal
    async with sqlite_db.transaction() as session:
        assert await take_lease(session, holder="a", ttl_s=-1)  # a's lease has now lapsed
        assert await take_lease(session, holder="b", ttl_s=60)  # taken over
        assert not await take_lease(session, holder="a", ttl_s=60)


async def test_run_loop_integrates_and_publishes(sqlite_db: Database) -> None:
    config = log_config()
    seq = Sequencer(sqlite_db, config, holder="test")
    await add_events(sqlite_db, 9)
    task = asyncio.create_task(seq.run())
    for _ in range(500):
        async with sqlite_db.reading() as session:
            cp = await store.latest_checkpoint(session)
        if cp is not None and cp.size == 9:
            break
        seq.request_checkpoint()
        await asyncio.sleep(0.01)
    seq.stop()
    await task
    assert cp is not None and cp.size == 9
    # The stopped holder released its lease: another replica takes over at once.
    async with sqlite_db.transaction() as session:
        assert await take_lease(session, holder="other", ttl_s=60)


async def test_checkpoints_keep_coming_during_a_backlog(sqlite_db: Database) -> None:
    seq = Sequencer(sqlite_db, log_config(batch_size=7, checkpoint_interval_s=0.0))
    await add_events(sqlite_db, 20)
    sizes = []
    for _ in range(3):
        assert await seq.step() > 0
        async with sqlite_db.reading() as session:
            cp = await store.latest_checkpoint(session)
            assert cp is not None
            sizes.append(cp.size)
    assert sizes == [7, 14, 20]


async def test_a_replica_without_the_lease_does_nothing(sqlite_db: Database) -> None:
    holder = Sequencer(sqlite_db, log_config(), holder="a")
    other = Sequencer(sqlite_db, log_config(), holder="b")
    await add_events(sqlite_db, 3)
    assert await holder.hold_lease()
    assert await other.step() == 0
    assert await holder.step() == 3
