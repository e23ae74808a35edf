"""Tampering with a real count, each caught by `run_audit` with the culprit named.

The stack is the real one on PostgreSQL and a local object store: KPPS phones enrol and upload
through the ingest app with the reference client (`clients/kpps`), pages are accepted (and one
corrected) through `shared.acceptance.accept_page`, the sequencer logs and signs, and the
auditor reads the tally app over HTTP (ASGI), recounting every total from the log
(`clients.auditor.recount_log.LogRecount`). Then an operator with database access cheats.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, select, text, update
from typer.testing import CliRunner

from clients.auditor.client import LogClient
from clients.auditor.findings import Report
from clients.auditor.recount_log import LogRecount
from clients.auditor.verify import AuditOptions, run_audit
from clients.kpps.client import Backoff, KppsClient, enroll
from clients.kpps.profile import Profile
from services.ingest.app import create_app as create_ingest
from services.ingest.enrolment import issue_code
from services.tally.app import create_app as create_tally
from services.witness.witness import ForkDetected, Witness
from shared.acceptance import PageAcceptance, Source, accept_page, accept_pages
from shared.audit import store
from shared.audit.config import LogConfig
from shared.audit.cosignature import CosignatureSigner
from shared.audit.merkle import EMPTY_ROOT
from shared.audit.sequencer import Sequencer
from shared.db.engine import Database
from shared.db.tables import Submission
from shared.db.tables.events import AuditEvent
from shared.events import record_event
from shared.reference.load import load_reference
from shared.settings import Settings
from shared.signing import UploadClaim, sign
from shared.storage import photo_key
from sirekap.commands import audit
from tests.integration.tally.seed import admin_page, ppwp_votes
from tests.support.live import serve_app
from tests.support.photos import make_jpeg
from tests.support.totals import change_stored_total

pytestmark = pytest.mark.postgres

TPS_A = "1708012001001"  # desa 17.08.01.2001
TPS_B = "1708011007001"  # desa 17.08.01.1007, same kecamatan
WITNESS = "witness.test/w1"


async def _no_sleep(_: float) -> None:
    return None


@dataclass
class Count:
    """The stack after a small count: two TPS, both PPWP pages accepted, one page corrected,
    and TPS B's DPD voter page (a contest with a dapil)."""

    db: Database
    settings: Settings
    config: LogConfig
    tally: httpx.AsyncClient
    profiles: dict[str, Profile]
    phones: dict[str, KppsClient]
    witness_signer: CosignatureSigner
    correction_event: int
    photos: list[str]  # sha256 of every uploaded photo

    async def sequence(self) -> None:
        seq = Sequencer(self.db, self.config)
        await seq.integrate_all()
        await seq.checkpoint()

    async def audit(
        self, *, state: Path | None = None, photos: int = 0, witnessed: bool = False
    ) -> Report:
        options = AuditOptions(
            log_key=self.config.signer.verifier(),
            witness_keys=[self.witness_signer.verifier()] if witnessed else [],
            state_path=state,
            photos=photos,
            recount=LogRecount(),
            seed=1,
        )
        return await run_audit(LogClient(self.tally), "http://tally", options)

    def witness(self, state: Path) -> Witness:
        return Witness(
            client=self.tally,
            signer=self.witness_signer,
            log_key=self.config.signer.verifier(),
            state_path=state,
        )

    async def rebuild_log(self) -> None:
        """What an operator does to hide a rewrite: forget the tree and every checkpoint,
        sequence the (edited) events again and sign the new tree with the log's own key."""
        async with self.db.transaction() as session:
            for table in ("log_cosignatures", "log_checkpoints", "log_nodes"):
                await session.execute(text(f"DELETE FROM {table}"))
            await session.execute(update(AuditEvent).values(log_index=None))
            await store.set_tree_head(session, store.TreeHead(0, EMPTY_ROOT))
        await self.sequence()


def culprits(report: Report) -> set[str]:
    return {f.culprit for f in report.findings}


def checks_of(report: Report, culprit: str) -> set[str]:
    return {f.check for f in report.findings if f.culprit == culprit}


async def _accept(
    db: Database, receipt: dict[str, object], values: dict[str, int], source: Source = "auto"
) -> int:
    async with db.transaction() as session:
        return await accept_page(
            session,
            submission_id=str(receipt["submission_id"]),
            tps_code=str(receipt["tps"]),
            contest=str(receipt["contest"]),
            page=int(str(receipt["page"])),
            values=values,
            source=source,
            reading_id=None,
            actor="pps:test" if source != "auto" else "ocr",
            reason="recounted at the PPS plenary" if source == "corrected" else None,
        )


@pytest.fixture
async def count(
    pg_db: Database, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Count]:
    witness_signer = CosignatureSigner.generate(WITNESS)
    monkeypatch.setenv("SIREKAP_LOG_WITNESS_KEYS", witness_signer.vkey())
    settings = Settings(
        environment="test",
        database_url=pg_url,
        data_dir=tmp_path,
        storage="local",
        auth_secret="t" * 32,
        log_origin="sirekap.test/tamper",
    )
    await load_reference(pg_db, "17.08.01")
    ingest_app, tally_app = create_ingest(settings), create_tally(settings, run_sequencer=False)
    async with (
        ingest_app.router.lifespan_context(ingest_app),
        tally_app.router.lifespan_context(tally_app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=ingest_app), base_url="http://ingest"
        ) as ingest,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=tally_app), base_url="http://tally"
        ) as tally,
    ):
        profiles: dict[str, Profile] = {}
        phones: dict[str, KppsClient] = {}
        photos: list[str] = []
        receipts: dict[tuple[str, int], dict[str, object]] = {}
        for n, tps in enumerate((TPS_A, TPS_B)):
            async with pg_db.transaction() as session:
                code, _ = await issue_code(session, tps_code=tps, issued_by="test", ttl_s=600)
            profiles[tps] = profile = await enroll(
                "http://ingest", tps, code, transport=ingest._transport
            )
            phones[tps] = phone = KppsClient(
                profile, ingest, backoff=Backoff(attempts=2, sleep=_no_sleep)
            )
            for contest, page in (("PPWP", 1), ("PPWP", 2), ("DPD", 1))[: 2 + n]:
                photo = make_jpeg(seed=10 * n + len(photos), size=(1100, 800))
                receipt = await phone.upload(photo, contest=contest, page=page)
                receipts[(tps, page if contest == "PPWP" else 10 + page)] = receipt
                photos.append(hashlib.sha256(photo).hexdigest())
        await _accept(pg_db, receipts[(TPS_A, 1)], admin_page(40, 41, 30, 31))
        await _accept(pg_db, receipts[(TPS_A, 2)], ppwp_votes(20, 25, 15, 1))
        await _accept(pg_db, receipts[(TPS_B, 1)], admin_page(50, 50, 45, 44))
        await _accept(pg_db, receipts[(TPS_B, 2)], ppwp_votes(30, 40, 18, 1))
        await _accept(pg_db, receipts[(TPS_B, 11)], admin_page(50, 50, 45, 44))
        # The PPS plenary moves 5 votes at TPS A: the last entry of that TPS's chain.
        correction = await _accept(
            pg_db, receipts[(TPS_A, 2)], ppwp_votes(25, 20, 15, 1), source="corrected"
        )
        stack = Count(
            db=pg_db,
            settings=settings,
            config=LogConfig.from_settings(settings),
            tally=tally,
            profiles=profiles,
            phones=phones,
            witness_signer=witness_signer,
            correction_event=correction,
            photos=photos,
        )
        await stack.sequence()
        yield stack


async def test_the_honest_count_verifies(count: Count) -> None:
    """No false alarm: everything recounts, and the recount really looked (a failing control
    is in every test below)."""
    recount = LogRecount()
    options = AuditOptions(log_key=count.config.signer.verifier(), photos=4, recount=recount)
    report = await run_audit(LogClient(count.tally), "http://tally", options)
    assert report.ok, report.human()
    # nasional, provinsi, kabupaten, kecamatan, 2 desa, for PPWP and DPD; 2 TPS (PPWP JSON).
    assert (recount.regions_checked, recount.tps_checked) == (12, 2)
    assert (report.totals_compared, report.tps_compared) == (12, 2)
    assert report.photos_fetched == 4
    assert recount.dapil_totals()[("DPD-17", "DPD")]["pengguna_total_j"] == 89
    values = recount.tps_values()
    assert values[(TPS_A, "PPWP")]["100025"] == 25  # the correction counts, not the reading
    assert recount.region_totals()[("17.08.01", "PPWP")]["100026"] == 20 + 40


async def test_retakes_and_late_acceptances_recount_exactly(count: Count) -> None:
    """A retake (version 2) is accepted, then the first photo's reading is accepted late by the
    batched path: the tally and the log-only recount agree that version 2 counts."""
    receipt = await count.phones[TPS_B].upload(
        make_jpeg(seed=77, size=(1100, 800)), contest="PPWP", page=2
    )
    assert receipt["version"] == 2
    await _accept(count.db, receipt, ppwp_votes(31, 39, 18, 1), "confirmed")
    async with count.db.transaction() as session:
        first = (
            await session.execute(
                select(Submission.id).where(
                    Submission.tps_code == TPS_B, Submission.page == 2, Submission.version == 1
                )
            )
        ).scalar_one()
        await accept_pages(session, [PageAcceptance(first, TPS_B, "PPWP", 2, ppwp_votes(1, 1, 1))])
    await count.sequence()
    recount = LogRecount()
    options = AuditOptions(log_key=count.config.signer.verifier(), recount=recount)
    report = await run_audit(LogClient(count.tally), "http://tally", options)
    assert report.ok, report.human()
    assert recount.tps_values()[(TPS_B, "PPWP")]["100025"] == 31
    assert recount.region_totals()[("00", "PPWP")]["100025"] == 25 + 31


async def test_a_total_changed_in_the_database(count: Count) -> None:
    async with count.db.transaction() as session:
        changed = await change_stored_total(
            session, scope="17.08.01", contest="PPWP", key="100026", shard=0, delta=7
        )
        assert changed == 1
    report = await count.audit()
    assert culprits(report) == {"region:17.08.01"}, report.human()
    # The JSON API, its Sirekap chart and its kabupaten's table all show the inflated number.
    assert checks_of(report, "region:17.08.01") == {
        "total-mismatch",
        "child-total-mismatch",
        "sirekap-chart-mismatch",
        "sirekap-table-mismatch",
    }


async def test_a_tps_row_changed_in_the_database(count: Count) -> None:
    async with count.db.transaction() as session:
        await session.execute(
            text(
                """UPDATE tally_tps
                SET "values" = jsonb_set(CAST("values" AS jsonb), '{100027}', '99')
                WHERE tps_code = :tps AND contest = 'PPWP'"""
            ),
            {"tps": TPS_B},
        )
    report = await count.audit()
    assert culprits(report) == {f"tps:{TPS_B}"}, report.human()
    assert checks_of(report, f"tps:{TPS_B}") == {
        "sirekap-tps-mismatch",
        "sirekap-table-mismatch",
        "child-total-mismatch",
        "export-mismatch",
    }


async def test_a_field_no_chart_shows_changed_in_the_database(count: Count) -> None:
    """Ballot papers received, of TPS B's DPD form: in no chart or summary, but in the bulk
    export of every field, which the recount reads too."""
    async with count.db.transaction() as session:
        await session.execute(
            text(
                """UPDATE tally_tps
                SET "values" = jsonb_set(CAST("values" AS jsonb), '{surat_suara_diterima}', '1')
                WHERE tps_code = :tps AND contest = 'DPD'"""
            ),
            {"tps": TPS_B},
        )
    report = await count.audit()
    assert culprits(report) == {f"tps:{TPS_B}"}, report.human()
    assert checks_of(report, f"tps:{TPS_B}") == {"export-mismatch"}


async def test_a_dapil_total_changed_in_the_database(count: Count) -> None:
    async with count.db.transaction() as session:
        changed = await change_stored_total(
            session, scope="DPD-17", contest="DPD", key="pengguna_total_j", delta=3
        )
        assert changed == 1
    report = await count.audit()
    assert culprits(report) == {"dapil:DPD-17"}, report.human()


async def test_a_count_without_a_photo(count: Count) -> None:
    """A second version of TPS A's vote page is slipped into the database with no photo (so no
    photo entry) and accepted: the log shows the acceptance, and that it cites no photo."""
    async with count.db.transaction() as session:
        first = (
            await session.execute(
                select(Submission).where(Submission.tps_code == TPS_A, Submission.page == 2)
            )
        ).scalar_one()
        fake = Submission(
            id="00000000-0000-4000-8000-00000000fa6e",
            tps_code=TPS_A,
            contest="PPWP",
            page=2,
            version=2,
            sha256=hashlib.sha256(b"no such photo").hexdigest(),
            size=1,
            content_type="image/jpeg",
            width=2000,
            height=1400,
            device_id=first.device_id,
            signature=first.signature,
            captured_at=first.captured_at,
            status="read",
            event_id=first.event_id,
        )
        session.add(fake)
    receipt: dict[str, object] = {"submission_id": fake.id, "tps": TPS_A, "contest": "PPWP"}
    await _accept(count.db, {**receipt, "page": 2}, ppwp_votes(10, 35, 15, 1), "corrected")
    await count.sequence()
    report = await count.audit()
    assert culprits(report) == {f"tps:{TPS_A}"}, report.human()
    assert "acceptance-without-photo" in checks_of(report, f"tps:{TPS_A}")


async def test_an_entry_changed_in_the_database(count: Count) -> None:
    """The stored bytes of TPS B's vote page acceptance are edited (still canonical JSON)."""
    async with count.db.transaction() as session:
        row = (
            await session.execute(
                select(AuditEvent.id, AuditEvent.body).where(
                    AuditEvent.tps_code == TPS_B, AuditEvent.kind == "acceptance"
                )
            )
        ).all()
        event_id, body = next((i, bytes(b)) for i, b in row if b'"100026":40' in bytes(b))
        await session.execute(
            update(AuditEvent)
            .where(AuditEvent.id == event_id)
            .values(body=body.replace(b'"100026":40', b'"100026":10'))
        )
    report = await count.audit()
    assert "root-mismatch" in checks_of(report, "log"), report.human()
    # What the edited entry now says no longer adds up to what is published.
    assert "total-mismatch" in checks_of(report, "region:17.08.01")
    assert "sirekap-tps-mismatch" in checks_of(report, f"tps:{TPS_B}")


async def test_an_entry_deleted(count: Count) -> None:
    # A hole: the log can no longer serve a contiguous range.
    async with count.db.transaction() as session:
        await session.execute(delete(AuditEvent).where(AuditEvent.log_index == 3))
    report = await count.audit()
    assert checks_of(report, "log") == {"unavailable"}, report.human()


async def test_an_entry_deleted_and_the_tree_rebuilt(count: Count, tmp_path: Path) -> None:
    """The correction is deleted and the log rebuilt and re-signed around the gap: the log is
    self-consistent, but the tally still counts the correction, so the recount names every
    region above TPS A, and TPS A itself; an auditor with a saved state also sees the rewrite."""
    state = tmp_path / "audit.json"
    assert (await count.audit(state=state)).ok
    async with count.db.transaction() as session:
        await session.execute(delete(AuditEvent).where(AuditEvent.id == count.correction_event))
    await count.rebuild_log()

    fresh = await count.audit()
    assert "log" not in culprits(fresh), fresh.human()
    assert culprits(fresh) == {
        "region:00",
        "region:17",
        "region:17.08",
        "region:17.08.01",
        "region:17.08.01.2001",
        f"tps:{TPS_A}",
    }, fresh.human()
    assert "total-mismatch" in checks_of(fresh, "region:17.08.01.2001")
    assert "sirekap-tps-mismatch" in checks_of(fresh, f"tps:{TPS_A}")

    remembered = await count.audit(state=state)
    assert "log-shrank" in checks_of(remembered, "log")


async def test_history_rewritten_and_resigned(count: Count, tmp_path: Path) -> None:
    """The correction's entry is rewritten (its votes moved), the tree rebuilt at the same size,
    re-signed, and the witness's old cosignature pasted on: the saved state, the witness and the
    auditor who requires the witness each catch it."""
    state, witness_state = tmp_path / "audit.json", tmp_path / "w1.json"
    witness = count.witness(witness_state)
    await witness.witness_once(now=1_800_000_000)
    first = await count.audit(state=state, witnessed=True)
    assert first.ok, first.human()
    async with count.db.reading() as session:
        size = (await store.tree_head(session)).size
        lines = await store.cosignature_lines(session, size)
    assert len(lines) == 1

    async with count.db.transaction() as session:
        body = bytes(
            (
                await session.execute(
                    select(AuditEvent.body).where(AuditEvent.id == count.correction_event)
                )
            ).scalar_one()
        )
        forged = body.replace(b'"100025":25', b'"100025":45')
        assert forged != body
        await session.execute(
            update(AuditEvent)
            .where(AuditEvent.id == count.correction_event)
            .values(body=forged, entry_sha256=hashlib.sha256(forged).hexdigest())
        )
    await count.rebuild_log()
    async with count.db.transaction() as session:
        assert (await store.tree_head(session)).size == size
        await store.save_cosignature(
            session,
            size=size,
            key_name=WITNESS,
            key_id=count.witness_signer.key_id.hex(),
            timestamp=1_800_000_000,
            line=lines[0],
        )

    remembered = await count.audit(state=state)
    assert "history-rewritten" in checks_of(remembered, "log"), remembered.human()
    with pytest.raises(ForkDetected):
        await witness.witness_once(now=1_800_000_100)
    witnessed = await count.audit(witnessed=True)
    assert "bad-cosignature" in checks_of(witnessed, "log"), witnessed.human()
    # The forged votes are not what the tally publishes either.
    assert f"tps:{TPS_A}" in culprits(witnessed)


async def test_a_photo_replaced_in_the_object_store(count: Count) -> None:
    victim = count.photos[2]
    path = count.settings.resolved_storage_path / photo_key(victim)
    assert path.exists()
    path.write_bytes(make_jpeg(seed=99, size=(1100, 800)))
    report = await count.audit(photos=len(count.photos))
    assert culprits(report) == {"photo-store"}, report.human()
    assert [f.detail.split(":")[0] for f in report.findings] == [victim]
    assert report.photos_fetched == len(count.photos)


async def test_an_entry_signed_by_a_device_of_another_tps(count: Count) -> None:
    """The operator logs a photo of TPS B signed (validly) by TPS A's phone."""
    phone = count.profiles[TPS_A]
    sha = hashlib.sha256(b"not a form").hexdigest()
    claim = UploadClaim(phone.device_id, TPS_B, "PPWP", 2, sha, "2024-02-14T13:05:00Z")
    async with count.db.transaction() as session:
        version = 1 + max(
            (
                await session.execute(
                    select(Submission.version).where(
                        Submission.tps_code == TPS_B, Submission.page == 2
                    )
                )
            ).scalars()
        )
        await record_event(
            session,
            kind="photo",
            tps_code=TPS_B,
            contest="PPWP",
            payload={
                "page": 2,
                "version": version,
                "sha256": sha,
                "size": 10,
                "content_type": "image/jpeg",
                "device": phone.device_id,
                "device_key": phone.key().public_key().public_bytes_raw().hex(),
                "captured_at": claim.captured_at,
                "signature": sign(phone.key(), claim.signed_bytes()),
            },
        )
    await count.sequence()
    report = await count.audit()
    assert culprits(report) == {f"device:{phone.device_id}"}, report.human()
    assert checks_of(report, f"device:{phone.device_id}") == {"device-wrong-tps"}


async def test_the_command_recounts_by_default(count: Count) -> None:
    """`sirekap audit verify` against the tally under a real uvicorn: the recount is on unless
    `--no-recount` is given."""
    async with count.db.transaction() as session:
        changed = await change_stored_total(
            session, scope="17.08.01.2001", contest="PPWP", key="suara_sah", delta=-2
        )
        assert changed == 1
    runner = CliRunner()
    with serve_app(create_tally(count.settings, run_sequencer=False)) as url:
        args = ["verify", url, "--log-key", count.config.signer.vkey()]
        checked = await asyncio.to_thread(runner.invoke, audit.app, args)
        skipped = await asyncio.to_thread(runner.invoke, audit.app, [*args, "--no-recount"])
    assert checked.exit_code == 1, checked.output
    summary = json.loads(checked.output.strip().splitlines()[-1])
    assert summary["culprits"] == ["region:17.08.01.2001"]
    assert skipped.exit_code == 0, skipped.output
