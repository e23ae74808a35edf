"""SQL for review: the queue of pages waiting for a person, one page's evidence and history."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from shared.db.tables import Acceptance, Dispute, Reading, Submission, TallyTps
from shared.db.tables.readings import ReadingOutcome
from shared.db.tables.submissions import SubmissionStatus


def prefix_range(prefix: str) -> tuple[str, str]:
    """Codes starting with `prefix` as a half-open range an index can serve ("" = everything)."""
    if not prefix:
        return "", "\uffff"
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def queue_stmt(prefix: str, contest: str | None) -> Select[Reading, int, str, datetime]:
    """Readings that need a person: not yet accepted, and still the page's newest photo."""
    newer = aliased(Submission)
    lo, hi = prefix_range(prefix)
    stmt = (
        select(Reading, Submission.version, Submission.sha256, Submission.received_at)
        .join(Submission, Submission.id == Reading.submission_id)
        .where(
            # The worker sets this status with the reading, and a review's acceptance clears
            # it: through its index the queue is found among the pages waiting now, not among
            # every page ever sent to a person (millions on a national day).
            Submission.status == SubmissionStatus.NEEDS_REVIEW.value,
            Reading.outcome == ReadingOutcome.NEEDS_REVIEW.value,
            Reading.tps_code >= lo,
            Reading.tps_code < hi,
            ~exists().where(Acceptance.submission_id == Reading.submission_id),
            ~exists().where(
                newer.tps_code == Submission.tps_code,
                newer.contest == Submission.contest,
                newer.page == Submission.page,
                newer.version > Submission.version,
            ),
        )
    )
    if contest:
        stmt = stmt.where(Reading.contest == contest)
    return stmt


async def review_queue(
    session: AsyncSession,
    prefix: str,
    contest: str | None,
    *,
    limit: int,
    received_before: datetime | None = None,
) -> list[Any]:
    stmt = queue_stmt(prefix, contest)
    if received_before is not None:
        stmt = stmt.where(Submission.received_at < received_before)
    stmt = stmt.order_by(Submission.received_at, Reading.id).limit(limit)
    return list((await session.execute(stmt)).all())


async def page_submissions(
    session: AsyncSession, tps_code: str, contest: str, page: int | None = None
) -> list[tuple[Submission, Reading | None]]:
    stmt = (
        select(Submission, Reading)
        .outerjoin(Reading, Reading.submission_id == Submission.id)
        .where(Submission.tps_code == tps_code, Submission.contest == contest)
        .order_by(Submission.page, Submission.version)
    )
    if page is not None:
        stmt = stmt.where(Submission.page == page)
    return [(s, r) for s, r in (await session.execute(stmt)).all()]


async def page_acceptances(
    session: AsyncSession, tps_code: str, contest: str, page: int | None = None
) -> list[Acceptance]:
    stmt = (
        select(Acceptance)
        .where(Acceptance.tps_code == tps_code, Acceptance.contest == contest)
        .order_by(Acceptance.page, Acceptance.id)
    )
    if page is not None:
        stmt = stmt.where(Acceptance.page == page)
    return list((await session.execute(stmt)).scalars())


async def tally_row(session: AsyncSession, tps_code: str, contest: str) -> TallyTps | None:
    return await session.get(TallyTps, (tps_code, contest))


async def contests_of_tps(session: AsyncSession, tps_code: str) -> list[str]:
    rows = await session.execute(
        select(Submission.contest).where(Submission.tps_code == tps_code).distinct()
    )
    return sorted(rows.scalars())


async def disagreeing_retakes(
    session: AsyncSession, prefix: str, contest: str, limit: int
) -> list[dict[str, Any]]:
    """Pages photographed more than once whose readings read a field differently."""
    lo, hi = prefix_range(prefix)
    in_scope = (Reading.contest == contest, Reading.tps_code >= lo, Reading.tps_code < hi)
    # Only pages read more than once (a retake) can disagree; the GROUP BY keeps this cheap.
    twice = (
        select(Reading.tps_code, Reading.page)
        .where(*in_scope)
        .group_by(Reading.tps_code, Reading.page)
        .having(func.count() > 1)
        .limit(limit * 10)
        .subquery()
    )
    rows = await session.execute(
        select(Reading.tps_code, Reading.page, Reading.submission_id, Reading.values)
        .join(twice, (twice.c.tps_code == Reading.tps_code) & (twice.c.page == Reading.page))
        .where(*in_scope)
        .order_by(Reading.tps_code, Reading.page, Reading.id)
    )
    by_page: dict[tuple[str, int], list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for tps, page, sid, values in rows.all():
        by_page[(tps, page)].append((sid, values))
    found: list[dict[str, Any]] = []
    for (tps, page), readings in by_page.items():
        if len(readings) < 2:
            continue
        fields = _disagreeing_fields([values for _, values in readings])
        if fields:
            found.append(
                {
                    "tps": tps,
                    "page": page,
                    "fields": fields,
                    "submissions": [sid for sid, _ in readings],
                }
            )
            if len(found) >= limit:
                break
    return found


def _disagreeing_fields(readings: Sequence[dict[str, Any]]) -> list[str]:
    seen: dict[str, set[int]] = defaultdict(set)
    for values in readings:
        for key, value in values.items():
            if value is not None:
                seen[key].add(int(value))
    return sorted(k for k, vs in seen.items() if len(vs) > 1)


async def open_disputes(
    session: AsyncSession,
    prefix: str,
    contest: str | None,
    *,
    limit: int,
    page: tuple[str, str, int] | None = None,
) -> list[Dispute]:
    """KPPS disputes that no acceptance has answered yet (none with a higher revision)."""
    answered = exists().where(
        Acceptance.tps_code == Dispute.tps_code,
        Acceptance.contest == Dispute.contest,
        Acceptance.page == Dispute.page,
        Acceptance.revision > Dispute.revision,
    )
    lo, hi = prefix_range(prefix)
    stmt = select(Dispute).where(Dispute.tps_code >= lo, Dispute.tps_code < hi, ~answered)
    if contest:
        stmt = stmt.where(Dispute.contest == contest)
    if page is not None:
        stmt = stmt.where(
            Dispute.tps_code == page[0], Dispute.contest == page[1], Dispute.page == page[2]
        )
    stmt = stmt.order_by(Dispute.created_at, Dispute.id).limit(limit)
    return list((await session.execute(stmt)).scalars())
