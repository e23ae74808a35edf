"""Sirekap 2024's public JSON: the paths and shapes civic tools read, codes as strings."""

from __future__ import annotations

import httpx

from shared.db.engine import Database
from tests.integration.tally.seed import accept, admin_page, ppwp_votes, submit

TPS = "1708042001002"
TPS_PATH = "/pemilu/hhcw/ppwp/17/1708/170804/1708042001/1708042001002.json"
# The keys of a real 2024 per-TPS JSON (domain.md).
TPS_KEYS = {"mode", "chart", "images", "administrasi", "psu", "ts", "status_suara", "status_adm"}
ADMIN_KEYS = {
    "suara_sah", "suara_total", "suara_tidak_sah",
    *(f"{row}_{s}" for row in ("pemilih_dpt", "pengguna_dpt", "pengguna_dptb",
                                "pengguna_non_dpt", "pengguna_total") for s in "jlp"),
}  # fmt: skip


async def test_region_lists(tally_db: Database, tally_client: httpx.AsyncClient) -> None:
    provinces = (await tally_client.get("/wilayah/pemilu/ppwp/0.json")).json()
    assert provinces == [{"nama": "BENGKULU", "id": 17, "kode": "17", "tingkat": 1}]
    kecamatan = (await tally_client.get("/wilayah/pemilu/ppwp/17/1708.json")).json()
    assert len(kecamatan) == 8
    assert {k["tingkat"] for k in kecamatan} == {3}
    assert all(isinstance(k["kode"], str) and k["kode"].startswith("1708") for k in kecamatan)
    tps = (await tally_client.get("/wilayah/pemilu/ppwp/17/1708/170804/1708042001.json")).json()
    assert tps[0] == {"nama": "TPS 001", "id": 1708042001001, "kode": "1708042001001",
                      "tingkat": 5}  # fmt: skip
    # A path whose codes do not nest is not a region.
    assert (await tally_client.get("/wilayah/pemilu/ppwp/17/1601.json")).status_code == 404


async def test_tps_json_has_the_2024_shape(
    tally_db: Database, tally_client: httpx.AsyncClient
) -> None:
    empty = (await tally_client.get(TPS_PATH)).json()
    assert set(empty) == TPS_KEYS
    assert empty["chart"] is None and empty["status_suara"] is False
    assert empty["images"] == [None, None]

    admin, _ = await submit(tally_db, TPS, "PPWP", 1, photo=b"admin page")
    votes, sha = await submit(tally_db, TPS, "PPWP", 2, photo=b"votes page")
    await accept(tally_db, admin, admin_page(60, 60, 50, 50))
    await accept(tally_db, votes, ppwp_votes(44, 38, 18))
    data = (await tally_client.get(TPS_PATH)).json()
    assert set(data) == TPS_KEYS
    assert data["mode"] == "hhcw"
    assert data["chart"] == {"null": None, "100025": 44, "100026": 38, "100027": 18}
    assert set(data["administrasi"]) == ADMIN_KEYS
    assert data["administrasi"]["suara_sah"] == 100
    assert data["administrasi"]["pemilih_dpt_j"] == 120
    assert data["status_suara"] is True and data["status_adm"] is True
    assert data["images"][1] == f"/photos/{sha}"
    assert data["psu"] is None and len(data["ts"]) == 19


async def test_aggregates_and_paslon(tally_db: Database, tally_client: httpx.AsyncClient) -> None:
    votes, _ = await submit(tally_db, TPS, "PPWP", 2)
    await accept(tally_db, votes, ppwp_votes(44, 38, 18))
    national = (await tally_client.get("/pemilu/hhcw/ppwp.json")).json()
    assert {"mode", "chart", "table", "progres", "psu", "ts"} <= set(national)
    assert national["progres"] == {"total": 526, "progres": 1}
    assert national["table"]["17"]["100026"] == 38
    assert national["chart"]["100025"] == 44
    desa = (await tally_client.get("/pemilu/hhcw/ppwp/17/1708/170804/1708042001.json")).json()
    assert desa["table"][TPS]["100027"] == 18
    assert desa["table"]["1708042001001"]["100027"] is None
    assert desa["table"][TPS]["status_progress"] is True
    kab = (await tally_client.get("/pemilu/hhcw/ppwp/17/1708.json")).json()
    assert set(kab["table"]) == {f"1708{n:02d}" for n in range(1, 9)}
    paslon = (await tally_client.get("/pemilu/ppwp.json")).json()
    assert [paslon[k]["nomor_urut"] for k in ("100025", "100026", "100027")] == [1, 2, 3]
