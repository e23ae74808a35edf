"""Sirekap 2024's public JSON, same paths and shapes, so civic tools (KawalPemilu,
audit-sirekap) read this system's output unchanged.

- `/wilayah/pemilu/ppwp/0.json`, `/wilayah/pemilu/ppwp/{prov}[/{kab}…]/{code}.json`: children
  of a region as `[{nama, id, kode, tingkat}]` (TPS under a desa: tingkat 5);
- `/pemilu/hhcw/ppwp.json`, `/pemilu/hhcw/ppwp/{prov}[/…]/{code}.json`: a region's aggregate
  `{mode, chart, table, progres, psu, ts}`; with a 13-digit TPS code last, the TPS's form;
- `/pemilu/ppwp.json`: the paslon.

Codes are compact strings (`17`, `1708`, `170804`, `1708042001`, `1708042001003`).
"""

from __future__ import annotations

import itertools
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.tally.http import cached_json
from services.tally.regions import RegionIndex, RegionInfo
from services.tally.results import repository
from services.tally.results.service import tps_of_desa
from services.tally.review.service import photo_url
from services.tally.state import StateDep
from shared.contests import PASLON, Contest, definition
from shared.contests.public_json import ADMIN_KINDS, ADMINISTRASI
from shared.db.base import utcnow
from shared.db.tables import Submission, TallyTps, Tps
from shared.db.tables.tally import TPS_KEY
from shared.errors import NotFound
from shared.timezones import zone_of

router = APIRouter(tags=["public (Sirekap-compatible)"])
PPWP = Contest.PPWP.value
PASLON_IDS = [p.id for p in PASLON]
PASLON_COLOURS = {"100025": "#8CB369", "100026": "#F4E285", "100027": "#BC4B51"}
WILAYAH_MAX_AGE_S = 3600  # the region list does not change during a count


def _ts(region_code: str, moment: Any = None) -> str:
    """Sirekap's `ts`: local wall time of the region, `YYYY-MM-DD HH:MM:SS`."""
    zone, _ = zone_of(region_code if region_code != "00" else "31")
    return f"{(moment or utcnow()).astimezone(zone):%Y-%m-%d %H:%M:%S}"


def _segments(path: str) -> list[str]:
    """`17/1708/170804.json` → ["17", "1708", "170804"], checking each nests in the one before."""
    if not path.endswith(".json"):
        raise NotFound(f"no such path {path}", "Alamat tidak ditemukan.")
    parts = path.removesuffix(".json").split("/")
    for outer, inner in itertools.pairwise(parts):
        if not inner.startswith(outer):
            raise NotFound(f"{inner} is not inside {outer}", "Alamat wilayah tidak valid.")
    if (
        not all(p.isdigit() for p in parts)
        or [len(p) for p in parts] != [2, 4, 6, 10, 13][: len(parts)]
    ):
        raise NotFound(f"no such region path {path}", "Alamat wilayah tidak valid.")
    return parts


def _wilayah_item(info: RegionInfo) -> dict[str, Any]:
    return {
        "nama": info.name.upper(),
        "id": int(info.compact),
        "kode": info.compact,
        "tingkat": info.level,
    }


async def _children_list(
    session: AsyncSession, regions: RegionIndex, code: str
) -> list[dict[str, Any]]:
    info = await regions.get(code)
    if info.level < 4:
        return [_wilayah_item(c) for c in regions.child_regions(info.code)]
    return [
        {"nama": t["name"], "id": int(t["code"]), "kode": t["code"], "tingkat": 5}
        for t in await tps_of_desa(session, info.code)
    ]


@router.get("/wilayah/pemilu/ppwp/{path:path}")
async def wilayah(request: Request, state: StateDep, path: str) -> Response:
    code = "00" if path == "0.json" else _segments(path)[-1]
    if len(code) == 13:
        raise NotFound("a TPS has no children", "TPS tidak memiliki wilayah di bawahnya.")
    async with state.db.reading() as session:
        items = await _children_list(session, state.regions, code)
    return cached_json(request, items, max_age=WILAYAH_MAX_AGE_S)


@router.get("/pemilu/ppwp.json")
async def paslon(request: Request) -> Response:
    data = {
        p.id: {
            "ts": "2024-02-14 00:00:00",
            "nama": p.names.upper(),
            "warna": PASLON_COLOURS.get(p.id, "#888888"),
            "nomor_urut": p.number,
        }
        for p in PASLON
    }
    return cached_json(request, data, max_age=WILAYAH_MAX_AGE_S)


def _progress_percent(reported: int, total: int) -> float:
    return round(100.0 * reported / total, 2) if total else 0.0


async def aggregate(session: AsyncSession, regions: RegionIndex, code: str) -> dict[str, Any]:
    info = await regions.get(code)
    totals = await repository.totals_of(session, info.code, PPWP)
    reported = totals.get(TPS_KEY, 0)
    table: dict[str, Any] = {}
    if info.level < 4:
        kids = regions.child_regions(info.code)
        sums = await repository.totals_of_many(session, [k.code for k in kids], PPWP)
        for kid in kids:
            t = sums.get(kid.code, {})
            done = t.get(TPS_KEY, 0)
            table[kid.compact] = {
                **{pid: (t.get(pid, 0) if done else None) for pid in PASLON_IDS},
                "psu": "Reguler",
                "persen": _progress_percent(done, kid.tps),
                "status_progress": done > 0,
            }
    else:
        rows = await repository.tps_rows(session, info.compact, PPWP)
        for tps in await tps_of_desa(session, info.code):
            row = rows.get(tps["code"])
            has = bool(row and any(k in row.values for k in PASLON_IDS))
            table[tps["code"]] = {
                **{pid: (row.values.get(pid) if row and has else None) for pid in PASLON_IDS},
                "psu": None,
                "persen": 100.0 if row and row.pages else 0.0,
                "status_progress": bool(row and row.pages),
            }
    chart: dict[str, Any] = {pid: totals.get(pid, 0) for pid in PASLON_IDS}
    chart["persen"] = _progress_percent(reported, info.tps)
    return {
        "mode": "hhcw",
        "chart": chart,
        "table": table,
        "progres": {"total": info.tps, "progres": reported},
        "psu": "Reguler",
        "ts": _ts(info.code),
    }


async def tps_form(session: AsyncSession, tps_code: str) -> dict[str, Any]:
    """One TPS in the exact shape of Sirekap's per-TPS JSON (see domain.md)."""
    if await session.get(Tps, tps_code) is None:
        raise NotFound(f"no TPS {tps_code}", f"TPS {tps_code} tidak ditemukan.")
    row = await session.get(TallyTps, (tps_code, PPWP))
    defn = definition(PPWP, tps_code)
    pages = row.pages if row else {}
    values = row.values if row else {}
    admin_pages = {f.page for f in defn.fields if f.kind in ADMIN_KINDS}
    vote_pages = {f.page for f in defn.fields if f.kind not in ADMIN_KINDS}
    status_adm = all(str(p) in pages for p in admin_pages)
    status_suara = all(str(p) in pages for p in vote_pages)
    subs = (
        await session.execute(
            select(Submission.id, Submission.page, Submission.sha256)
            .where(Submission.tps_code == tps_code, Submission.contest == PPWP)
            .order_by(Submission.page, Submission.version)
        )
    ).all()
    counted_ids = {p["submission_id"] for p in pages.values()}
    images: list[str | None] = []
    for page in range(1, defn.pages + 1):
        of_page = [s for s in subs if s.page == page]
        chosen = [s for s in of_page if s.id in counted_ids] or of_page[-1:]
        images.append(photo_url(chosen[0].sha256) if chosen else None)
    chart: dict[str, Any] | None = None
    if status_suara:
        chart = {"null": None, **{pid: values.get(pid) for pid in PASLON_IDS}}
    administrasi = None
    if status_adm or status_suara:
        administrasi = {k: values.get(k) for k in ADMINISTRASI}
    return {
        "mode": "hhcw",
        "chart": chart,
        "images": images,
        "administrasi": administrasi,
        "psu": None,
        "ts": _ts(tps_code, row.updated_at if row else None),
        "status_suara": status_suara,
        "status_adm": status_adm,
    }


@router.get("/pemilu/hhcw/ppwp.json")
async def national(request: Request, state: StateDep) -> Response:
    async with state.db.reading() as session:
        data = await aggregate(session, state.regions, "00")
    return cached_json(request, data)


@router.get("/pemilu/hhcw/ppwp/{path:path}")
async def hhcw(request: Request, state: StateDep, path: str) -> Response:
    code = _segments(path)[-1]
    async with state.db.reading() as session:
        if len(code) == 13:
            data = await tps_form(session, code)
        else:
            data = await aggregate(session, state.regions, code)
    return cached_json(request, data)
