"""The dashboard JSON API over HTTP: totals, children, progress, anomalies, caching, export."""

from __future__ import annotations

import json

import httpx

from shared.acceptance import form_of
from shared.db.engine import Database
from tests.integration.tally.seed import accept, admin_page, ppwp_votes, read, submit

TPS_A = "1708042001001"


async def test_region_view_totals_children_progress(
    tally_db: Database, tally_client: httpx.AsyncClient
) -> None:
    sid, _ = await submit(tally_db, TPS_A, "PPWP", 2)
    await accept(tally_db, sid, ppwp_votes(40, 50, 10, invalid=2))
    res = await tally_client.get("/api/v1/regions/17.08", params={"contest": "PPWP"})
    assert res.status_code == 200
    view = res.json()
    assert view["region"]["name"].upper() == "KABUPATEN KEPAHIANG"
    assert view["totals"]["suara_sah"] == 100
    assert view["progress"] == {"reported": 1, "total": 526, "percent": 0.19}
    assert [c["value"] for c in view["chart"]] == [40, 50, 10]
    assert len(view["children"]) == 8
    kec = {c["code"]: c for c in view["children"]}["17.08.04"]
    assert kec["totals"]["100026"] == 50 and kec["progress"]["reported"] == 1
    assert view["zone"] == "WIB"

    desa = (await tally_client.get("/api/v1/regions/1708042001")).json()
    tps_rows = {c["code"]: c for c in desa["children"]}
    assert tps_rows[TPS_A]["totals"]["100025"] == 40
    assert all(c["kind"] == "tps" for c in desa["children"])


async def test_etag_gives_304_until_totals_move(
    tally_db: Database, tally_client: httpx.AsyncClient
) -> None:
    url = "/api/v1/regions/17.08.04/totals"
    first = await tally_client.get(url)
    etag = first.headers["etag"]
    assert "max-age" in first.headers["cache-control"]
    same = await tally_client.get(url, headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.content == b""
    sid, _ = await submit(tally_db, TPS_A, "PPWP", 2)
    await accept(tally_db, sid, ppwp_votes(1, 2, 3))
    moved = await tally_client.get(url, headers={"If-None-Match": etag})
    assert moved.status_code == 200 and moved.headers["etag"] != etag


async def test_anomalies_list_overrides_and_disagreeing_retakes(
    tally_db: Database, tally_client: httpx.AsyncClient
) -> None:
    sid, _ = await submit(tally_db, TPS_A, "PPWP", 1)
    values = admin_page(100, 100, 90, 95)
    values["pengguna_total_j"] = 999  # impossible, but the official insists (with a reason)
    await accept(tally_db, sid, values, source="corrected", reason="as written on the form")
    first, _ = await submit(tally_db, "1708042001002", "PPWP", 2)
    retake, _ = await submit(tally_db, "1708042001002", "PPWP", 2)
    await read(tally_db, first, ppwp_votes(62, 1, 1))
    await read(tally_db, retake, {**ppwp_votes(62, 1, 1), "100025": 562})
    res = await tally_client.get("/api/v1/regions/17.08/anomalies")
    kinds = {(a["tps"], a["kind"]) for a in res.json()["items"]}
    assert (TPS_A, "rule") in kinds
    assert (TPS_A, "turnout_above_dpt") in kinds
    assert ("1708042001002", "retake_disagrees") in kinds
    waiting = await tally_client.get("/api/v1/regions/17.08/anomalies", params={"stale_after_s": 0})
    assert ("1708042001002", "review_waiting") in {
        (a["tps"], a["kind"]) for a in waiting.json()["items"]
    }


async def test_export_streams_csv_and_jsonl(
    tally_db: Database, tally_client: httpx.AsyncClient
) -> None:
    for tps, n in (("1708042001001", 3), ("1708042001002", 4)):
        sid, _ = await submit(tally_db, tps, "PPWP", 2)
        await accept(tally_db, sid, ppwp_votes(n, 0, 0))
    jsonl = await tally_client.get("/api/v1/export/results.jsonl", params={"contest": "PPWP"})
    lines = [json.loads(line) for line in jsonl.text.splitlines()]
    assert [(r["tps"], r["values"]["100025"]) for r in lines] == [
        ("1708042001001", 3),
        ("1708042001002", 4),
    ]
    csv_text = (await tally_client.get("/api/v1/export/results.csv")).text.splitlines()
    assert csv_text[0] == "tps,contest,page,field,value,acceptance_id,source,revision"
    assert "1708042001002,PPWP,2,100025,4," in "\n".join(csv_text)
    assert len(csv_text) == 1 + 2 * 6


async def test_party_contest_by_party_per_region_and_by_candidate_per_dapil(
    tally_db: Database, tally_client: httpx.AsyncClient
) -> None:
    form = form_of("DPR", TPS_A)
    page2 = {f.key: 0 for f in form.page_fields(2)}
    first = form.parties[0]
    page2.update({first.votes_key: 3, first.candidates[1].field_key: 4, first.total_key: 7})
    sid, _ = await submit(tally_db, TPS_A, "DPR", 2)
    await accept(tally_db, sid, page2)
    region = (await tally_client.get("/api/v1/regions/17.08", params={"contest": "DPR"})).json()
    assert region["chart"][0] == {"key": "partai_01_total", "label": "1. PKB", "value": 7}
    assert region["dapil"] == "DPR-17-1"
    dapil = (await tally_client.get("/api/v1/dapil/DPR-17-1", params={"contest": "DPR"})).json()
    assert dapil["reported_tps"] == 1
    pkb = dapil["lists"][0]
    assert pkb["candidates"][1]["name"] == first.candidates[1].name
    assert dapil["totals"][pkb["candidates"][1]["key"]] == 4
    wrong = await tally_client.get("/api/v1/dapil/DPD-17", params={"contest": "DPR"})
    assert wrong.status_code == 404
