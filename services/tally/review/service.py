"""Review: what a reviewer sees for one page, and a confirmation or correction of it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.tally.review import repository
from shared.acceptance import accept_page
from shared.auth import Official
from shared.contests import Contest, definition
from shared.db.tables import Acceptance, Dispute, Reading, Submission, SubmissionStatus, Tps
from shared.errors import NotFound, Unprocessable
from shared.events import format_time
from shared.timezones import local_time


def photo_url(sha256: str) -> str:
    return f"/photos/{sha256}"


def crop_url(key: str) -> str:
    return f"/crops/{key}"


# A box the classifier gave less than this probability is shown as uncertain. The OCR worker
# stores crops only for boxes of failing fields or below its own bar, so most crops shown are.
UNCERTAIN_BELOW = 0.9


def box_crops(fields: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Per field, the crops of its boxes that the OCR worker stored (`boxes[i].crop_key`)."""
    crops: dict[str, list[dict[str, Any]]] = {}
    for key, info in (fields or {}).items():
        if not isinstance(info, dict):
            continue
        shown = []
        for i, box in enumerate(info.get("boxes") or []):
            if isinstance(box, dict) and box.get("crop_key"):
                prob = float(box.get("prob") or 0.0)
                shown.append(
                    {
                        "box": i,
                        "url": crop_url(box["crop_key"]),
                        "symbol": box.get("symbol"),
                        "prob": prob,
                        "uncertain": prob < UNCERTAIN_BELOW or not info.get("ok", True),
                    }
                )
        if shown:
            crops[key] = shown
    return crops


def reading_json(reading: Reading) -> dict[str, Any]:
    return {
        "id": reading.id,
        "outcome": reading.outcome,
        "values": reading.values,
        "failing": reading.failing,
        "fields": reading.fields,
        "crops": box_crops(reading.fields),
        "confidence": reading.confidence,
        "event_id": reading.event_id,
        "created_at": format_time(reading.created_at),
    }


def acceptance_json(a: Acceptance) -> dict[str, Any]:
    return {
        "id": a.id,
        "revision": a.revision,
        "submission_id": a.submission_id,
        "submission_version": a.submission_version,
        "reading_id": a.reading_id,
        "source": a.source,
        "values": a.values,
        "counted": a.counted,
        "supersedes": a.supersedes,
        "actor": a.actor,
        "reason": a.reason,
        "event_id": a.event_id,
        "created_at": format_time(a.created_at),
        "created_at_local": local_time(a.created_at, a.tps_code),
    }


def dispute_json(d: Dispute) -> dict[str, Any]:
    return {
        "id": d.id,
        "tps": d.tps_code,
        "contest": d.contest,
        "page": d.page,
        "revision": d.revision,
        "submission_id": d.submission_id,
        "device_id": d.device_id,
        "fields": d.fields,
        "reason": d.reason,
        "event_id": d.event_id,
        "created_at": format_time(d.created_at),
        "created_at_local": local_time(d.created_at, d.tps_code),
    }


def submission_json(s: Submission, reading: Reading | None) -> dict[str, Any]:
    return {
        "id": s.id,
        "version": s.version,
        "sha256": s.sha256,
        "photo_url": photo_url(s.sha256),
        "width": s.width,
        "height": s.height,
        "status": s.status,
        "received_at": format_time(s.received_at),
        "received_at_local": local_time(s.received_at, s.tps_code),
        "event_id": s.event_id,
        "reading": reading_json(reading) if reading else None,
    }


async def page_state(
    session: AsyncSession, tps_code: str, contest: str, page: int
) -> dict[str, Any]:
    """Everything a reviewer needs for one page; `revision` is what a review must name."""
    contest = Contest(contest).value
    defn = definition(contest, tps_code)
    fields = defn.page_fields(page)
    if not fields:
        raise NotFound(f"{contest} has no page {page}", f"Halaman {page} tidak ada.")
    subs = await repository.page_submissions(session, tps_code, contest, page)
    history = await repository.page_acceptances(session, tps_code, contest, page)
    row = await repository.tally_row(session, tps_code, contest)
    entry = (row.pages if row else {}).get(str(page))
    return {
        "tps": tps_code,
        "contest": contest,
        "page": page,
        "pages": defn.pages,
        "revision": int(entry["revision"]) if entry else 0,
        "counted": entry,
        "fields": [
            {"key": f.key, "label_id": f.label_id, "label_en": f.label_en, "kind": f.kind}
            for f in fields
        ],
        "submissions": [submission_json(s, r) for s, r in subs],
        "history": [acceptance_json(a) for a in history],
        "open_disputes": [
            dispute_json(d)
            for d in await repository.open_disputes(
                session, tps_code, contest, limit=50, page=(tps_code, contest, page)
            )
        ],
    }


async def tps_detail(session: AsyncSession, tps_code: str) -> dict[str, Any]:
    tps = await session.get(Tps, tps_code)
    if tps is None:
        raise NotFound(f"no TPS {tps_code}", f"TPS {tps_code} tidak ditemukan.")
    contests: dict[str, Any] = {}
    for contest in await repository.contests_of_tps(session, tps_code):
        row = await repository.tally_row(session, tps_code, contest)
        pages = definition(contest, tps_code).pages
        contests[contest] = {
            "values": row.values if row else {},
            "anomalies": row.anomalies if row else [],
            "pages": [await page_state(session, tps_code, contest, p) for p in range(1, pages + 1)],
        }
    return {
        "tps": {"code": tps.code, "number": tps.number, "dpt": tps.dpt, "desa": tps.desa_code},
        "contests": contests,
    }


async def review_page(
    session: AsyncSession,
    official: Official | None,
    *,
    actor: str,
    tps_code: str,
    contest: str,
    page: int,
    submission_id: str,
    expected_revision: int,
    values: dict[str, int],
    reason: str | None,
) -> dict[str, Any]:
    """Confirm (no changed values) or correct (some) a page's reading; one acceptance + event.

    Fields not named in `values` keep the value that counts now (or the machine's reading when
    nothing counts yet), so a reviewer only sends what they looked at and changed.
    """
    if official is not None:
        official.require(tps_code)
    submission = await session.get(Submission, submission_id)
    if submission is None or (submission.tps_code, submission.contest, submission.page) != (
        tps_code,
        contest,
        page,
    ):
        raise NotFound("no such submission for this page", "Foto halaman ini tidak ditemukan.")
    reading = (
        await session.execute(select(Reading).where(Reading.submission_id == submission_id))
    ).scalar_one_or_none()
    row = await repository.tally_row(session, tps_code, contest)
    entry = (row.pages if row else {}).get(str(page))
    if entry and entry["submission_id"] == submission_id:
        base: dict[str, Any] = dict(entry["values"])
    else:
        base = dict(reading.values) if reading else {}
    final = {**base, **values}
    missing = sorted(k for k, v in final.items() if v is None)
    page_keys = {f.key for f in definition(contest, tps_code).page_fields(page)}
    missing += sorted(page_keys - set(final))
    if missing:
        raise Unprocessable(
            f"fields without a value: {missing}",
            f"Isian belum terisi: {', '.join(missing)}",
            extra={"fields": missing},
        )
    changed = any(base.get(k) != v for k, v in values.items())
    event_id = await accept_page(
        session,
        submission_id=submission_id,
        tps_code=tps_code,
        contest=contest,
        page=page,
        values={k: int(v) for k, v in final.items()},
        source="corrected" if changed else "confirmed",
        reading_id=reading.id if reading else None,
        actor=actor,
        reason=(reason or "").strip() or None,
        expected_revision=expected_revision,
    )
    # What the KPPS phone shows and the review backlog counts: this photo is settled now.
    submission.status = SubmissionStatus.ACCEPTED.value
    submission.status_reason = None
    return {"event_id": event_id, "source": "corrected" if changed else "confirmed"}
