"""The sequencer process SIGKILLed in the middle of a batch, against real uploads.

Its first batch is committed; the second has hashed its entries in, written the tree nodes,
given the events their indices and moved the tree head, all uncommitted, when it is killed.
PostgreSQL rolls that transaction back; the dead holder's lease runs out; another sequencer
takes the lease over and integrates everything from the committed size on: indices stay
contiguous, the tree's root is the one recomputed from the entries, and every acknowledged
photo's entry is inside the checkpoint the survivor signs.
"""

from __future__ import annotations

import asyncio
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from clients.kpps.client import KppsClient
from shared.audit import store
from shared.audit.config import LogConfig
from shared.audit.merkle import MemoryTree
from shared.audit.note import Ed25519Signer
from shared.audit.sequencer import Sequencer
from shared.db.tables import AuditEvent
from shared.db.tables.log import LogLease
from shared.settings import Settings
from tests.integration.faults.conftest import running_ingest
from tests.integration.ingest.conftest import TPS, settings_for
from tests.support.killing import kill_when_it_says
from tests.support.nothing_lost import LOG_ORIGIN, assert_nothing_lost
from tests.support.photos import form_photo

pytestmark = [pytest.mark.postgres, pytest.mark.s3]
LEASE_S = 2.0
BATCH = 2

_KILLED_MID_BATCH = textwrap.dedent(
    """
    import asyncio, sys, time
    from shared.audit import store
    from shared.audit.config import LogConfig
    from shared.audit.note import Ed25519Signer
    from shared.audit.sequencer import Sequencer
    from shared.db.engine import open_database

    set_tree_head = store.set_tree_head
    batches = 0

    async def killed_in_second_batch(session, head):
        global batches
        await set_tree_head(session, head)
        batches += 1
        if batches == 2:  # nodes written, indices given, head moved: all uncommitted
            print("mid-batch", flush=True)
            time.sleep(120)  # when SIGKILL arrives

    store.set_tree_head = killed_in_second_batch

    async def main():
        db = open_database(sys.argv[1])
        signer = Ed25519Signer.generate("killed.test/log")
        config = LogConfig("killed.test/log", signer, lease_ttl_s=float(sys.argv[2]),
                           batch_size=int(sys.argv[3]))
        sequencer = Sequencer(db, config, holder="killed")
        assert await sequencer.hold_lease()
        while await sequencer.integrate_once():
            pass
        print("finished", flush=True)

    asyncio.run(main())
    """
)


@pytest.fixture
def pg_s3_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    return settings_for("postgres-s3", tmp_path, request)


async def test_the_sequencer_killed_mid_batch_loses_nothing(pg_s3_settings: Settings) -> None:
    config = LogConfig(
        LOG_ORIGIN, Ed25519Signer.generate(LOG_ORIGIN), lease_ttl_s=LEASE_S, batch_size=BATCH
    )
    async with running_ingest(pg_s3_settings) as ingest:
        phone = KppsClient(await ingest.device(), ingest.http)
        receipts = [
            await phone.upload_single(form_photo(TPS, page, n), contest="PPWP", page=page)
            for page, n in ((1, 0), (2, 0), (2, 1))
        ]
        await kill_when_it_says(
            _KILLED_MID_BATCH,
            pg_s3_settings.resolved_database_url,
            str(LEASE_S),
            str(BATCH),
            marker=b"mid-batch",
        )
        async with ingest.db.reading() as session:
            head = await store.tree_head(session)
            lease = await session.get(LogLease, "sequencer")
        assert head.size == BATCH  # the first batch committed, the second rolled back
        assert lease is not None and lease.holder == "killed"

        survivor = Sequencer(ingest.db, config, holder="survivor")
        assert await survivor.step() == 0  # the dead holder's lease still holds
        deadline = time.monotonic() + 30
        while True:
            await survivor.step()
            async with ingest.db.reading() as session:
                pending = await store.pending_events(session, 1)
                head = await store.tree_head(session)
            if not pending and head.size > BATCH:
                break
            assert time.monotonic() < deadline, "the lease was never taken over"
            await asyncio.sleep(0.2)

        await assert_nothing_lost(ingest.db, ingest.state.store, receipts, log=config)
        async with ingest.db.reading() as session:
            events = (
                (await session.execute(select(AuditEvent).order_by(AuditEvent.log_index)))
                .scalars()
                .all()
            )
            head = await store.tree_head(session)
        assert [e.log_index for e in events] == list(range(len(events)))
        recomputed = MemoryTree()
        for event in events:
            recomputed.append_entry(bytes(event.body))
        assert (head.size, head.root) == (len(events), recomputed.root())
