"""Review and correction over HTTP: sign-in, the queue, confirm/correct, 409, scopes, KPPS."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select

from services.tally.app import create_app
from services.tally.review.kpps import dispute_bytes, review_bytes
from shared.auth import Role
from shared.db.engine import Database
from shared.db.tables import Acceptance, AuditEvent, Device
from shared.settings import Settings
from shared.signing import sign
from tests.integration.tally.conftest import AUTH_SECRET, add_official, login
from tests.integration.tally.seed import accept, ensure_device, ppwp_votes, read, submit

TPS = "1708042001001"
DESA = "17.08.04.2001"
PAGE_URL = f"/api/v1/pages/{TPS}/PPWP/2"
FAILING = [{"field": "100025", "rule": "R3", "reason_en": "sum", "reason_id": "jumlah"}]


async def _page_waiting_for_review(db: Database) -> str:
    sid, _ = await submit(db, TPS, "PPWP", 2)
    machine = {**ppwp_votes(62, 20, 10), "100025": 562}  # X read as 5: breaks R3
    await read(db, sid, machine, failing=FAILING)
    return sid


async def test_official_corrects_a_failing_field(
    tally_db: Database, tally_client: httpx.AsyncClient
) -> None:
    sid = await _page_waiting_for_review(tally_db)
    await add_official(tally_db, "pps-a", Role.PPS, DESA)
    auth = await login(tally_client, "pps-a")

    queue = (await tally_client.get("/api/v1/review/queue", headers=auth)).json()
    assert [(i["tps"], i["page"], i["submission_id"]) for i in queue["items"]] == [(TPS, 2, sid)]
    page = (await tally_client.get(PAGE_URL)).json()
    assert page["revision"] == 0
    assert page["submissions"][0]["reading"]["failing"] == FAILING

    res = await tally_client.post(
        f"{PAGE_URL}/review",
        headers={**auth, "If-Match": '"r0"'},
        json={"submission_id": sid, "values": {"100025": 62}, "reason": "X read as 5"},
    )
    assert res.status_code == 200, res.text
    assert res.json()["source"] == "corrected"
    assert res.json()["current"]["revision"] == 1
    totals = (await tally_client.get("/api/v1/regions/17.08/totals")).json()["totals"]
    assert (totals["100025"], totals["suara_sah"]) == (62, 92)
    # The queue is empty now, and the machine's reading stays visible beside the correction.
    assert (await tally_client.get("/api/v1/review/queue", headers=auth)).json()["items"] == []
    page = (await tally_client.get(PAGE_URL)).json()
    assert page["submissions"][0]["reading"]["values"]["100025"] == 562
    assert page["submissions"][0]["status"] == "accepted"  # what the KPPS phone now shows
    assert [h["source"] for h in page["history"]] == ["corrected"]
    async with tally_db.reading() as session:
        event = (
            await session.execute(select(AuditEvent).where(AuditEvent.kind == "correction"))
        ).scalar_one()
    assert b'"changes":{"100025":[562,62]}' in event.body
    assert b'"reason":"X read as 5"' in event.body


async def test_two_officials_at_once_one_wins_the_other_gets_409(
    tally_db: Database, tally_client: httpx.AsyncClient
) -> None:
    sid = await _page_waiting_for_review(tally_db)
    await add_official(tally_db, "pps-a", Role.PPS, DESA)
    await add_official(tally_db, "ppk-a", Role.PPK, "17.08.04")
    a, b = await login(tally_client, "pps-a"), await login(tally_client, "ppk-a")

    def post(auth: dict[str, str], value: int) -> Coroutine[Any, Any, httpx.Response]:
        return tally_client.post(
            f"{PAGE_URL}/review",
            headers=auth,
            json={
                "submission_id": sid,
                "values": {"100025": value},
                "reason": "fix",
                "expected_revision": 0,
            },
        )

    results = await asyncio.gather(post(a, 62), post(b, 63))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 409]
    loser = next(r for r in results if r.status_code == 409)
    assert loser.json()["current"]["revision"] == 1
    async with tally_db.reading() as session:
        assert len((await session.execute(select(Acceptance))).all()) == 1


async def test_confirming_without_changes_is_a_confirmation(
    tally_db: Database, tally_client: httpx.AsyncClient
) -> None:
    sid, _ = await submit(tally_db, TPS, "PPWP", 2)
    await read(tally_db, sid, ppwp_votes(1, 2, 3))
    await add_official(tally_db, "kpu", Role.KPU, "00")
    auth = await login(tally_client, "kpu")
    res = await tally_client.post(
        f"{PAGE_URL}/review", headers=auth, json={"submission_id": sid, "expected_revision": 0}
    )
    assert res.status_code == 200 and res.json()["source"] == "confirmed"


async def test_scopes_401_and_403(tally_db: Database, tally_client: httpx.AsyncClient) -> None:
    sid = await _page_waiting_for_review(tally_db)
    body = {"submission_id": sid, "values": {"100025": 62}, "reason": "x", "expected_revision": 0}
    assert (await tally_client.post(f"{PAGE_URL}/review", json=body)).status_code == 401
    bad = {"Authorization": "Bearer not.valid"}
    assert (
        await tally_client.post(f"{PAGE_URL}/review", json=body, headers=bad)
    ).status_code == 401
    await add_official(tally_db, "pps-other", Role.PPS, "17.08.01.2001")
    await add_official(tally_db, "auditor", Role.AUDITOR, "00")
    other = await login(tally_client, "pps-other")
    res = await tally_client.post(f"{PAGE_URL}/review", json=body, headers=other)
    assert res.status_code == 403 and res.json()["detail_id"]
    assert (await tally_client.get("/api/v1/review/queue", headers=other)).json()["items"] == []
    auditor = await login(tally_client, "auditor")
    assert (
        await tally_client.post(f"{PAGE_URL}/review", json=body, headers=auditor)
    ).status_code == 403
    wrong = await tally_client.post(
        "/api/v1/auth/login", json={"username": "pps-other", "password": "wrong password"}
    )
    assert wrong.status_code == 401


async def test_kpps_device_confirms_its_own_page(
    tally_db: Database, tally_client: httpx.AsyncClient
) -> None:
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    async with tally_db.transaction() as session:
        session.add(Device(id="kpps-1", tps_code=TPS, public_key=public, label="kpps"))
    await ensure_device(tally_db, TPS)
    sid = await _page_waiting_for_review(tally_db)
    values = {"100025": 62}

    def signed(revision: int, reason: str | None, tps: str = TPS) -> dict[str, object]:
        message = review_bytes(
            device_id="kpps-1",
            tps=tps,
            contest="PPWP",
            page=2,
            submission_id=sid,
            revision=revision,
            values=values,
            reason=reason,
        )
        return {
            "device_id": "kpps-1",
            "submission_id": sid,
            "values": values,
            "reason": reason,
            "expected_revision": revision,
            "signature": sign(key, message),
        }

    url = f"/api/v1/kpps/pages/{TPS}/PPWP/2/review"
    forged = {**signed(0, "X read as 5"), "values": {"100025": 63}}
    assert (await tally_client.post(url, json=forged)).status_code == 401
    ok = await tally_client.post(url, json=signed(0, "X read as 5"))
    assert ok.status_code == 200, ok.text
    assert ok.json()["current"]["history"][0]["actor"] == "KPPS:kpps-1"
    replay = await tally_client.post(url, json=signed(0, "X read as 5"))
    assert replay.status_code == 409
    other = "1708042001002"  # a correctly signed request for a TPS the device is not enrolled at
    res = await tally_client.post(
        f"/api/v1/kpps/pages/{other}/PPWP/2/review", json=signed(1, "x", tps=other)
    )
    assert res.status_code == 403


async def test_kpps_dispute_sends_an_accepted_page_back_to_the_officials(
    tally_db: Database, tally_client: httpx.AsyncClient
) -> None:
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    async with tally_db.transaction() as session:
        session.add(Device(id="kpps-2", tps_code=TPS, public_key=public, label="kpps"))
    sid, _ = await submit(tally_db, TPS, "PPWP", 2)
    await accept(tally_db, sid, ppwp_votes(60, 20, 10))  # auto-accepted: 60 should be 62

    def signed(revision: int) -> dict[str, object]:
        message = dispute_bytes(
            device_id="kpps-2",
            tps=TPS,
            contest="PPWP",
            page=2,
            submission_id=sid,
            revision=revision,
            fields=["100025"],
            reason="kami menulis 62",
        )
        return {
            "device_id": "kpps-2",
            "submission_id": sid,
            "expected_revision": revision,
            "fields": ["100025"],
            "reason": "kami menulis 62",
            "signature": sign(key, message),
        }

    url = f"/api/v1/kpps/pages/{TPS}/PPWP/2/dispute"
    assert (await tally_client.post(url, json=signed(0))).status_code == 409  # stale revision
    first = await tally_client.post(url, json=signed(1))
    assert first.status_code == 200, first.text
    again = await tally_client.post(url, json=signed(1))  # a retry records nothing new
    assert again.json()["event_id"] == first.json()["event_id"]

    await add_official(tally_db, "pps-a", Role.PPS, DESA)
    auth = await login(tally_client, "pps-a")
    queue = (await tally_client.get("/api/v1/review/queue", headers=auth)).json()
    assert [(d["tps"], d["page"], d["reason"]) for d in queue["disputes"]] == [
        (TPS, 2, "kami menulis 62")
    ]
    anomalies = (await tally_client.get("/api/v1/regions/17.08/anomalies")).json()["items"]
    assert [a["kind"] for a in anomalies] == ["kpps_dispute"]

    fixed = await tally_client.post(
        f"{PAGE_URL}/review",
        headers=auth,
        json={
            "submission_id": sid,
            "values": {"100025": 62, "suara_sah": 92, "suara_total": 92},
            "reason": "sesuai sanggahan KPPS",
            "expected_revision": 1,
        },
    )
    assert fixed.status_code == 200, fixed.text
    queue = (await tally_client.get("/api/v1/review/queue", headers=auth)).json()
    assert queue["disputes"] == []
    assert (await tally_client.get(PAGE_URL)).json()["open_disputes"] == []


async def test_password_sign_in_is_rate_limited_per_address(
    tally_db: Database, tally_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        environment="test",
        database_url=tally_url,
        data_dir=tmp_path,
        auth_secret=AUTH_SECRET,
        rate_enrol_address_burst=2,
        rate_enrol_address_per_min=1,
    )
    app = create_app(settings, run_sequencer=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tally") as client:
            guesses = [
                await client.post(
                    "/api/v1/auth/login", json={"username": "kpu", "password": f"guess {n}"}
                )
                for n in range(3)
            ]
    assert [g.status_code for g in guesses] == [401, 401, 429]
    assert int(guesses[-1].headers["retry-after"]) > 0
