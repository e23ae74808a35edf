"""The check the fault tests end with finds what is missing (a check that cannot fail proves
nothing): an object gone, an entry unsequenced, a reading gone, a count without acceptance,
a receipt the database never heard of."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, update

from clients.kpps.client import KppsClient
from shared.db.tables import Acceptance, AuditEvent, Reading
from shared.durability import find_losses
from shared.settings import Settings
from shared.storage import photo_key
from tests.integration.faults.conftest import running_ingest
from tests.integration.ingest.conftest import TPS
from tests.support.nothing_lost import assert_nothing_lost, throwaway_log_config
from tests.support.photos import form_photo


async def test_the_check_finds_every_kind_of_loss(sqlite_url: str, tmp_path: Path) -> None:
    settings = Settings(
        database_url=sqlite_url, storage="local", data_dir=tmp_path, auth_secret="t" * 32
    )
    log = throwaway_log_config()
    async with running_ingest(settings) as ingest:
        phone = KppsClient(await ingest.device(), ingest.http)
        receipts = [
            await phone.upload_single(form_photo(TPS, page, n), contest="PPWP", page=page)
            # Page 2 of this sheet is auto-accepted (its acceptance is what `a` loses below);
            # page 1 goes to a person, which the check must accept as complete.
            for page, n in ((2, 0), (1, 0), (1, 1))
        ]
        await assert_nothing_lost(ingest.db, ingest.state.store, receipts, log=log)
        a, b, c = (str(r["submission_id"]) for r in receipts)
        await ingest.state.store.delete(photo_key(receipts[0]["sha256"]))
        async with ingest.db.transaction() as session:
            await session.execute(
                update(AuditEvent)
                .where(AuditEvent.id == receipts[1]["event_id"])
                .values(log_index=None)
            )
            await session.execute(delete(Reading).where(Reading.submission_id == c))
            await session.execute(delete(Acceptance).where(Acceptance.submission_id == a))
        never_stored = {**receipts[0], "submission_id": "00000000-0000-0000-0000-000000000000"}
        losses = await find_losses(
            ingest.db,
            ingest.state.store,
            [*receipts, never_stored],
            log_verifier=log.signer.verifier(),
        )

    def found(sid: str, *words: str) -> bool:
        return any(x.submission_id == sid and all(w in x.what for w in words) for x in losses)

    assert found(a, "object missing")
    assert found(b, "photo event", "not sequenced")
    assert found(c, "0 readings, not 1")
    assert found(a, "counted without any acceptance")
    assert found("00000000-0000-0000-0000-000000000000", "no submission row")
    assert not found(b, "object"), losses  # what is there is not reported missing
