"""Races over real sockets on PostgreSQL + S3: the same photo uploaded by two connections at
once is one submission; two officials correcting the same page at once make one correction
(the other is told 409 with what now stands). Nothing acknowledged is lost either way."""

from __future__ import annotations

import asyncio
import functools

import httpx
import pytest
from sqlalchemy import func, select

from clients.kpps.client import KppsClient, enroll
from services.tally.app import create_app as create_tally_app
from shared.auth import Role
from shared.db.engine import database_from_settings
from shared.db.tables import Acceptance, Submission, TallyTps
from shared.forms.generate import generate_photo
from shared.settings import Settings
from tests.conftest import clean_database
from tests.integration.faults.conftest import running_ingest
from tests.integration.ingest.conftest import TPS
from tests.integration.tally.conftest import add_official, login
from tests.support.live import serve_app, serve_ingest
from tests.support.nothing_lost import (
    assert_nothing_lost,
    assert_nothing_lost_in,
    read_every_page,
)
from tests.support.photos import form_photo

pytestmark = [pytest.mark.postgres, pytest.mark.s3]
DESA = "17.08.01.1007"
PAGE_URL = f"/api/v1/pages/{TPS}/PPWP/2"


async def test_the_same_photo_from_two_connections_at_once(pg_s3_settings: Settings) -> None:
    settings = pg_s3_settings
    db = database_from_settings(settings)
    try:
        await clean_database(db)
    finally:
        await db.dispose()
    with serve_ingest(settings, scope="17.08.01") as server:
        profile = await enroll(server.url, TPS, server.issue_code(TPS))
        async with (
            httpx.AsyncClient(base_url=server.url, timeout=60) as first,
            httpx.AsyncClient(base_url=server.url, timeout=60) as second,
        ):
            one = KppsClient(profile, first)
            other = KppsClient(profile, second, chunk_size=100_000)
            photo, retake = form_photo(TPS, 1), form_photo(TPS, 2)
            single = await asyncio.gather(
                one.upload_single(photo, contest="PPWP", page=1),
                other.upload_single(photo, contest="PPWP", page=1),
            )
            mixed = await asyncio.gather(
                one.upload_single(retake, contest="PPWP", page=2),
                other.upload(retake, contest="PPWP", page=2),  # resumable, in chunks
            )
    for pair in (single, mixed):
        assert pair[0]["submission_id"] == pair[1]["submission_id"]
    assert sorted(r["duplicate"] for r in single) == [False, True]
    await assert_nothing_lost_in(settings, [*single, *mixed])
    db = database_from_settings(settings)
    try:
        async with db.reading() as session:
            assert await session.scalar(select(func.count()).select_from(Submission)) == 2
    finally:
        await db.dispose()


@functools.cache
def _page_that_does_not_add_up() -> bytes:
    """Page 2 whose votes do not sum to suara_sah (rule R3): the OCR sends it to review."""
    jpeg, _ = generate_photo(TPS, "PPWP", 2, None, "clean", 1, "eval", inconsistent="R3")
    return jpeg


# Two corrections, each a consistent page (the votes add up to suara_sah, + tidak sah = total),
# two digits away from what was written (73, 102), so that no reading of the page, which the
# decoder makes consistent by overruling one box, can equal either: a correction equal to the
# reading would be a confirmation.
CORRECTION_A = {"100025": 63, "100026": 110, "100027": 35, "suara_sah": 208}
CORRECTION_B = {"100025": 62, "100026": 111, "100027": 35, "suara_sah": 208}
REST = {"suara_tidak_sah": 7, "suara_total": 215}


async def test_two_officials_correcting_the_same_page_at_once(pg_s3_settings: Settings) -> None:
    settings = pg_s3_settings
    async with running_ingest(settings) as ingest:
        phone = KppsClient(await ingest.device(), ingest.http)
        receipt = await phone.upload_single(_page_that_does_not_add_up(), contest="PPWP", page=2)
        await read_every_page(ingest.db, ingest.state.store)
        await add_official(ingest.db, "pps-a", Role.PPS, DESA)
        await add_official(ingest.db, "ppk-a", Role.PPK, "17.08.01")
        with serve_app(create_tally_app(settings, run_sequencer=False)) as url:
            async with (
                httpx.AsyncClient(base_url=url, timeout=60) as a,
                httpx.AsyncClient(base_url=url, timeout=60) as b,
            ):
                page = (await a.get(PAGE_URL)).json()
                assert page["revision"] == 0
                reading = page["submissions"][0]["reading"]
                assert reading["failing"]  # waiting for review
                for correction in (CORRECTION_A, CORRECTION_B):
                    assert reading["values"] != {**correction, **REST}
                auth_a, auth_b = await login(a, "pps-a"), await login(b, "ppk-a")

                def correct(
                    http: httpx.AsyncClient, auth: dict[str, str], values: dict[str, int]
                ) -> asyncio.Future[httpx.Response]:
                    return asyncio.ensure_future(
                        http.post(
                            f"{PAGE_URL}/review",
                            headers=auth,
                            json={
                                "submission_id": receipt["submission_id"],
                                "values": {**values, **REST},
                                "reason": "recounted from the photo",
                                "expected_revision": 0,
                            },
                        )
                    )

                results = await asyncio.gather(
                    correct(a, auth_a, CORRECTION_A), correct(b, auth_b, CORRECTION_B)
                )
        assert sorted(r.status_code for r in results) == [200, 409], [r.text for r in results]
        winner = next(r for r in results if r.status_code == 200)
        loser = next(r for r in results if r.status_code == 409)
        assert loser.json()["current"]["revision"] == 1
        await assert_nothing_lost(ingest.db, ingest.state.store, [receipt])
        async with ingest.db.reading() as session:
            accepted = (await session.execute(select(Acceptance))).scalars().all()
            counted = await session.get(TallyTps, (TPS, "PPWP"))
        assert [a.source for a in accepted] == ["corrected"]  # one correction, not two
        assert counted is not None
        assert counted.pages["2"]["acceptance_id"] == accepted[0].id
        assert winner.json()["current"]["revision"] == 1
