"""Region views for dashboards: a region's totals, its children with theirs, progress."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.tally.regions import RegionIndex, RegionInfo
from services.tally.results import repository
from services.tally.results.charts import SUMMARY_KEYS, chart_keys, dapil_candidates
from shared.acceptance import dapil_of
from shared.contests import Contest
from shared.db.base import utcnow
from shared.db.tables import Tps
from shared.db.tables.tally import TPS_KEY
from shared.errors import NotFound
from shared.events import format_time
from shared.timezones import local_time, zone_of


def progress(reported: int, total: int) -> dict[str, Any]:
    percent = round(100.0 * reported / total, 2) if total else 0.0
    return {"reported": reported, "total": total, "percent": percent}


def region_json(info: RegionInfo) -> dict[str, Any]:
    return {
        "code": info.code,
        "compact": info.compact,
        "name": info.name,
        "level": info.level,
        "level_name": info.level_name,
        "parent": info.parent,
        "tps": info.tps,
        "dpt": info.dpt,
    }


def _chart(contest: str, code: str, totals: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {"key": k.key, "label": k.label, "value": totals.get(k.key, 0)}
        for k in chart_keys(contest, code)
    ]


def _stamp(code: str) -> dict[str, str]:
    now = utcnow()
    return {"generated_at": format_time(now), "generated_at_local": local_time(now, code)}


async def region_totals(
    session: AsyncSession, regions: RegionIndex, code: str, contest: str
) -> dict[str, Any]:
    info = await regions.get(code)
    contest = Contest(contest).value
    return totals_json(info, contest, await repository.totals_of(session, info.code, contest))


def totals_json(info: RegionInfo, contest: str, totals: dict[str, int]) -> dict[str, Any]:
    """One region's totals and progress: the cheap request dashboards poll."""
    totals = dict(totals)
    reported = totals.pop(TPS_KEY, 0)
    return {
        "region": region_json(info),
        "contest": contest,
        "totals": dict(sorted(totals.items())),
        "chart": _chart(contest, info.code, totals),
        "progress": progress(reported, info.tps),
        **_stamp(info.code),
    }


async def region_view(
    session: AsyncSession, regions: RegionIndex, code: str, contest: str
) -> dict[str, Any]:
    """A region with its children (regions, or TPS under a desa) and their summaries."""
    view = await region_totals(session, regions, code, contest)
    info = await regions.get(code)
    contest = view["contest"]
    keys = [k.key for k in chart_keys(contest, info.code)] + list(SUMMARY_KEYS)
    children: list[dict[str, Any]] = []
    if info.level < 4:
        kids = regions.child_regions(info.code)
        sums = await repository.totals_of_many(session, [k.code for k in kids], contest)
        for kid in kids:
            t = sums.get(kid.code, {})
            children.append(
                {
                    **region_json(kid),
                    "kind": "region",
                    "totals": {k: t.get(k, 0) for k in keys if k != TPS_KEY},
                    "progress": progress(t.get(TPS_KEY, 0), kid.tps),
                }
            )
    else:
        rows = await repository.tps_rows(session, info.code.replace(".", ""), contest)
        for tps in await tps_of_desa(session, info.code):
            row = rows.get(tps["code"])
            values = row.values if row else {}
            children.append(
                {
                    **tps,
                    "kind": "tps",
                    "totals": {k: values.get(k, 0) for k in keys if k != TPS_KEY},
                    "progress": progress(1 if row and row.pages else 0, 1),
                    "anomalies": row.anomaly_count if row else 0,
                }
            )
    zone = zone_of(info.code)[1] if info.code != "00" else "WIB"
    return {
        **view,
        "zone": zone,
        "breadcrumbs": [region_json(a) for a in regions.ancestors(info.code)],
        "children": children,
        "dapil": _dapil_hint(contest, info),
    }


def _dapil_hint(contest: str, info: RegionInfo) -> str | None:
    """The dapil a region lies entirely inside (to link its candidate view), if any."""
    if contest == Contest.PPWP or info.level < 2:
        return None
    fake_tps = (info.code.replace(".", "") + "0000000000000")[:13]
    if contest == Contest.DPRD_KABKOTA and info.level < 3:
        return None
    return dapil_of(contest, fake_tps)


async def tps_of_desa(session: AsyncSession, desa_code: str) -> list[dict[str, Any]]:
    rows = (
        await session.execute(
            select(Tps.code, Tps.number, Tps.dpt)
            .where(Tps.desa_code == desa_code)
            .order_by(Tps.number)
        )
    ).all()
    return [
        {
            "code": r.code,
            "compact": r.code,
            "name": f"TPS {r.number:03d}",
            "level": 5,
            "level_name": "tps",
            "parent": desa_code,
            "tps": 1,
            "dpt": r.dpt,
        }
        for r in rows
    ]


async def dapil_view(session: AsyncSession, dapil: str, contest: str) -> dict[str, Any]:
    contest = Contest(contest).value
    if not dapil.startswith(contest + "-"):
        raise NotFound(f"no dapil {dapil} for {contest}", f"Dapil {dapil} tidak ditemukan.")
    totals = await repository.totals_of(session, dapil, contest)
    reported = totals.pop(TPS_KEY, 0)
    return {
        "dapil": dapil,
        "contest": contest,
        "reported_tps": reported,
        "totals": dict(sorted(totals.items())),
        "lists": dapil_candidates(contest, dapil),
    }
