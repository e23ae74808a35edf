"""Review API: the queue in an official's region, one page, confirm/correct with a version."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from pydantic import BaseModel, Field

from services.tally.auth.deps import OfficialDep, WriterDep
from services.tally.http import cached_json
from services.tally.review import repository
from services.tally.review.kpps import check_device, dispute_bytes, record_dispute, review_bytes
from services.tally.review.service import (
    dispute_json,
    page_state,
    photo_url,
    review_page,
    tps_detail,
)
from services.tally.state import StateDep, TallyState
from shared.acceptance import RevisionConflict
from shared.auth import Official
from shared.contests import Contest
from shared.errors import BadRequest, Conflict
from shared.events import format_time
from shared.timezones import local_time

router = APIRouter(prefix="/api/v1", tags=["review"])
TpsCode = Annotated[str, Path(pattern=r"^\d{13}$")]
PageNo = Annotated[int, Path(ge=1, le=20)]


class Review(BaseModel):
    submission_id: str = Field(min_length=1, max_length=36)
    values: dict[str, Annotated[int, Field(ge=0, lt=2**31, strict=True)]] = {}
    reason: str | None = Field(default=None, max_length=500)
    expected_revision: int | None = Field(default=None, ge=0, lt=2**31)


class KppsDispute(BaseModel):
    device_id: str = Field(min_length=1, max_length=36)
    submission_id: str = Field(min_length=1, max_length=36)
    expected_revision: int = Field(ge=0, lt=2**31)
    fields: list[str] = Field(default_factory=list, max_length=200)
    reason: str = Field(min_length=3, max_length=500)
    signature: str = Field(min_length=1, max_length=100)


class KppsReview(Review):
    device_id: str = Field(min_length=1, max_length=36)
    signature: str = Field(min_length=1, max_length=100)


def _revision(body: Review, if_match: str | None) -> int:
    if body.expected_revision is not None:
        return body.expected_revision
    if if_match:
        tag = if_match.strip().removeprefix("W/").strip('"')
        if tag.startswith("r") and tag[1:].isdigit():
            return int(tag[1:])
    raise BadRequest(
        "name the revision you reviewed: expected_revision or If-Match",
        "Sertakan versi halaman yang Anda periksa.",
    )


@router.get("/review/queue")
async def get_queue(
    state: StateDep,
    official: OfficialDep,
    contest: Contest | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    prefix = "" if official.region == "00" else official.region.replace(".", "")
    async with state.db.reading() as session:
        rows = await repository.review_queue(
            session, prefix, contest.value if contest else None, limit=limit
        )
        disputes = await repository.open_disputes(
            session, prefix, contest.value if contest else None, limit=limit
        )
    return {
        "region": official.region,
        "disputes": [dispute_json(d) for d in disputes],
        "items": [
            {
                "kind": "reading",
                "tps": r.Reading.tps_code,
                "contest": r.Reading.contest,
                "page": r.Reading.page,
                "submission_id": r.Reading.submission_id,
                "version": r.version,
                "photo_url": photo_url(r.sha256),
                "failing": r.Reading.failing,
                "received_at": format_time(r.received_at),
                "received_at_local": local_time(r.received_at, r.Reading.tps_code),
            }
            for r in rows
        ],
    }


@router.get("/pages/{tps}/{contest}/{page}")
async def get_page(
    request: Request, state: StateDep, tps: TpsCode, contest: Contest, page: PageNo
) -> Response:
    async with state.db.reading() as session:
        data = await page_state(session, tps, contest.value, page)
    response = cached_json(request, data, max_age=0, public=False)
    # The revision is the version a review must name (If-Match), distinct from the body's ETag.
    response.headers["X-Revision"] = f'"r{data["revision"]}"'
    return response


@router.get("/tps/{tps}")
async def get_tps(request: Request, state: StateDep, tps: TpsCode) -> Response:
    async with state.db.reading() as session:
        data = await tps_detail(session, tps)
    return cached_json(request, data)


async def _conflict(state: TallyState, tps: str, contest: str, page: int) -> Conflict:
    async with state.db.reading() as session:
        current = await page_state(session, tps, contest, page)
    return Conflict(
        f"page {tps}/{contest}/{page} is now at revision {current['revision']}",
        "Halaman ini telah diubah oleh orang lain; periksa versi terbaru lalu coba lagi.",
        extra={"current": current},
    )


async def _review(
    state: TallyState,
    official: Official | None,
    actor: str,
    tps: str,
    contest: str,
    page: int,
    body: Review,
    revision: int,
) -> dict[str, Any]:
    try:
        async with state.db.transaction() as session:
            result = await review_page(
                session,
                official,
                actor=actor,
                tps_code=tps,
                contest=contest,
                page=page,
                submission_id=body.submission_id,
                expected_revision=revision,
                values=body.values,
                reason=body.reason,
            )
    except RevisionConflict:
        raise await _conflict(state, tps, contest, page) from None
    async with state.db.reading() as session:
        current = await page_state(session, tps, contest, page)
    return {**result, "current": current}


@router.post("/pages/{tps}/{contest}/{page}/review")
async def post_review(
    state: StateDep,
    official: WriterDep,
    tps: TpsCode,
    contest: Contest,
    page: PageNo,
    body: Review,
    if_match: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    official.require(tps)
    revision = _revision(body, if_match)
    actor = f"{official.role}:{official.username}"
    return await _review(state, official, actor, tps, contest.value, page, body, revision)


@router.post("/kpps/pages/{tps}/{contest}/{page}/review")
async def post_kpps_review(
    state: StateDep, tps: TpsCode, contest: Contest, page: PageNo, body: KppsReview
) -> dict[str, Any]:
    revision = _revision(body, None)
    message = review_bytes(
        device_id=body.device_id,
        tps=tps,
        contest=contest.value,
        page=page,
        submission_id=body.submission_id,
        revision=revision,
        values=body.values,
        reason=body.reason,
    )
    async with state.db.reading() as session:
        await check_device(session, body.device_id, tps, message, body.signature)
    return await _review(
        state, None, f"KPPS:{body.device_id}", tps, contest.value, page, body, revision
    )


@router.post("/kpps/pages/{tps}/{contest}/{page}/dispute")
async def post_kpps_dispute(
    state: StateDep, tps: TpsCode, contest: Contest, page: PageNo, body: KppsDispute
) -> dict[str, Any]:
    """The TPS's KPPS says the page as it stands is wrong: back to the officials' queue."""
    message = dispute_bytes(
        device_id=body.device_id,
        tps=tps,
        contest=contest.value,
        page=page,
        submission_id=body.submission_id,
        revision=body.expected_revision,
        fields=body.fields,
        reason=body.reason,
    )
    try:
        async with state.db.transaction() as session:
            await check_device(session, body.device_id, tps, message, body.signature)
            event_id = await record_dispute(
                session,
                device_id=body.device_id,
                tps_code=tps,
                contest=contest.value,
                page=page,
                submission_id=body.submission_id,
                revision=body.expected_revision,
                fields=body.fields,
                reason=body.reason,
            )
    except RevisionConflict:
        raise await _conflict(state, tps, contest.value, page) from None
    return {"event_id": event_id}
