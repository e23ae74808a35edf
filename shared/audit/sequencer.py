"""The sequencer: pending events → contiguous log indices → Merkle tree → signed checkpoints.

Requests never wait on it: they commit events with `log_index` NULL and return. The sequencer
picks them up in id order, in batches, one transaction per batch:

1. lock the tree head (so two sequencers, should two ever run, take turns instead of forking);
2. read the frontier of the tree (≤ log2 n stored nodes);
3. hash the batch's entries in, writing every completed node;
4. give the events the indices size, size + 1, … and store the new head.

One sequencer at a time runs the loop, chosen by a lease row with an expiry that another
replica takes over once the holder stops renewing it. The lease is only for efficiency:
correctness comes from step 1, which holds even while a stalled holder's lease is taken over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.audit import store
from shared.audit.config import LogConfig
from shared.audit.merkle import CompactRange, NodeId, leaf_hash
from shared.audit.publisher import publish_checkpoint
from shared.db.base import utcnow
from shared.db.engine import Database
from shared.db.tables.log import LogCheckpoint, LogLease

log = logging.getLogger("sirekap.audit.sequencer")
LEASE_NAME = "sequencer"


def _extend(tree: CompactRange, bodies: list[bytes]) -> list[tuple[NodeId, bytes]]:
    created: list[tuple[NodeId, bytes]] = []
    for body in bodies:
        created.extend(tree.append(leaf_hash(body)))
    return created


async def integrate_batch(session: AsyncSession, limit: int) -> int:
    """Sequence and integrate up to `limit` pending events; return how many. Caller commits."""
    head = await store.tree_head(session, lock=True)
    pending = await store.pending_events(session, limit)
    if not pending:
        return 0
    frontier_ids = CompactRange.frontier_ids(head.size)
    stored = await store.read_nodes(session, frontier_ids)
    tree = CompactRange(head.size, [stored[i] for i in frontier_ids])
    # ~25 ms of hashing for 10,000 entries: off the event loop, so requests served by the same
    # process do not stall behind a backlog.
    created = await asyncio.to_thread(_extend, tree, [e.body for e in pending])
    await store.write_nodes(session, created)
    await store.assign_indices(session, [e.id for e in pending], head.size)
    await store.set_tree_head(session, store.TreeHead(tree.size, tree.root()))
    return len(pending)


async def take_lease(session: AsyncSession, *, holder: str, ttl_s: float) -> bool:
    """Take or renew the sequencer lease; False while another live holder has it."""
    now = utcnow()
    expires = now + timedelta(seconds=ttl_s)
    values = {"name": LEASE_NAME, "holder": holder, "expires_at": expires}
    dialect = session.get_bind().dialect.name
    ins = pg_insert(LogLease) if dialect == "postgresql" else sqlite_insert(LogLease)
    await session.execute(ins.values(**values).on_conflict_do_nothing())
    result = await session.execute(
        update(LogLease)
        .where(
            LogLease.name == LEASE_NAME,
            (LogLease.holder == holder) | (LogLease.expires_at < now),
        )
        .values(holder=holder, expires_at=expires)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def release_lease(session: AsyncSession, *, holder: str) -> None:
    await session.execute(
        update(LogLease)
        .where(LogLease.name == LEASE_NAME, LogLease.holder == holder)
        .values(expires_at=utcnow())
    )


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Sequencer:
    """Runs the loop; start it from a service's lifespan with `asyncio.create_task(seq.run())`
    and stop it with `seq.stop()` then awaiting the task."""

    def __init__(self, db: Database, config: LogConfig, *, holder: str | None = None) -> None:
        self.db = db
        self.config = config
        self.holder = holder or default_holder()
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._checkpoint_wanted = True  # sign the state we start with
        self._lease_renew_at = 0.0
        self._last_checkpoint_at = 0.0

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def request_checkpoint(self) -> None:
        """Sign a checkpoint as soon as possible (on demand, besides the interval)."""
        self._checkpoint_wanted = True
        self._wake.set()

    async def hold_lease(self) -> bool:
        if time.monotonic() < self._lease_renew_at:
            return True
        async with self.db.transaction() as session:
            held = await take_lease(session, holder=self.holder, ttl_s=self.config.lease_ttl_s)
        # Renew at half the TTL, so a slow batch never lets the lease lapse under us.
        self._lease_renew_at = time.monotonic() + self.config.lease_ttl_s / 2 if held else 0.0
        return held

    async def integrate_once(self) -> int:
        async with self.db.transaction() as session:
            return await integrate_batch(session, self.config.batch_size)

    async def integrate_all(self) -> int:
        """Integrate every pending event (tests, benchmarks, `sirekap` one-shot commands)."""
        total = 0
        while n := await self.integrate_once():
            total += n
        return total

    async def checkpoint(self) -> LogCheckpoint:
        async with self.db.transaction() as session:
            return await publish_checkpoint(
                session, origin=self.config.origin, signer=self.config.signer
            )

    async def step(self) -> int:
        """One pass: a batch if we hold the lease, and a checkpoint when one is due."""
        if not await self.hold_lease():
            return 0
        n = await self.integrate_once()
        due = time.monotonic() - self._last_checkpoint_at >= self.config.checkpoint_interval_s
        # Also during a backlog: witnesses and auditors should see the log move every interval.
        if self._checkpoint_wanted or due:
            self._checkpoint_wanted = False
            self._last_checkpoint_at = time.monotonic()
            await self.checkpoint()
        return n

    async def run(self) -> None:
        log.info("sequencer %s started", self.holder)
        try:
            while not self._stop.is_set():
                try:
                    n = await self.step()
                except Exception:
                    # A lost database connection must not kill the loop; the next pass retries.
                    log.exception("sequencer pass failed")
                    n = 0
                if n >= self.config.batch_size:
                    continue  # a backlog: keep going without sleeping
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.config.poll_interval_s)
        finally:
            try:
                async with self.db.transaction() as session:
                    await release_lease(session, holder=self.holder)
            except Exception:
                log.exception("could not release the sequencer lease")
            log.info("sequencer %s stopped", self.holder)
