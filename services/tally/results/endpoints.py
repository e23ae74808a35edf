"""Dashboard JSON: a region's totals, its children, progress, anomalies; a dapil's candidates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.tally.http import cached_json
from services.tally.results import service
from services.tally.results.anomalies import STALE_AFTER_S, region_anomalies
from services.tally.state import StateDep
from shared.contests import Contest

router = APIRouter(prefix="/api/v1", tags=["results"])
ContestQ = Annotated[Contest, Query()]


@router.get("/regions/{code}/totals")
async def get_totals(
    request: Request, state: StateDep, code: str, contest: ContestQ = Contest.PPWP
) -> Response:
    info = await state.regions.get(code)
    totals = await state.hot.totals(info.code, contest.value)
    return cached_json(request, service.totals_json(info, contest.value, totals))


@router.get("/regions/{code}")
async def get_region(
    request: Request, state: StateDep, code: str, contest: ContestQ = Contest.PPWP
) -> Response:
    async with state.db.reading() as session:
        data = await service.region_view(session, state.regions, code, contest.value)
    return cached_json(request, data)


@router.get("/regions/{code}/anomalies")
async def get_anomalies(
    request: Request,
    state: StateDep,
    code: str,
    contest: ContestQ = Contest.PPWP,
    stale_after_s: Annotated[int, Query(ge=0)] = STALE_AFTER_S,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    info = await state.regions.get(code)
    prefix = "" if info.code == "00" else info.code.replace(".", "")
    async with state.db.reading() as session:
        items = await region_anomalies(
            session, prefix, contest.value, stale_after_s=stale_after_s, limit=limit
        )
    return cached_json(request, {"region": info.code, "contest": contest.value, "items": items})


@router.get("/dapil/{dapil}")
async def get_dapil(
    request: Request, state: StateDep, dapil: str, contest: ContestQ = Contest.DPR
) -> Response:
    async with state.db.reading() as session:
        data = await service.dapil_view(session, dapil, contest.value)
    return cached_json(request, data)
