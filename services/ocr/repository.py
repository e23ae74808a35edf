"""All SQL of the OCR worker except the queue's: submissions in, readings out."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.tables.readings import Reading
from shared.db.tables.reference import Tps
from shared.db.tables.submissions import Submission


@dataclass(frozen=True, slots=True)
class SubmissionInfo:
    id: str
    tps_code: str
    contest: str
    page: int
    sha256: str
    event_id: int
    dpt: int | None


async def load_submission(session: AsyncSession, submission_id: str) -> SubmissionInfo | None:
    row = (
        await session.execute(
            select(
                Submission.id,
                Submission.tps_code,
                Submission.contest,
                Submission.page,
                Submission.sha256,
                Submission.event_id,
                Tps.dpt,
            )
            .outerjoin(Tps, Tps.code == Submission.tps_code)
            .where(Submission.id == submission_id)
        )
    ).one_or_none()
    if row is None:
        return None
    return SubmissionInfo(
        row.id,
        row.tps_code,
        row.contest,
        int(row.page),
        row.sha256,
        int(row.event_id),
        None if row.dpt is None else int(row.dpt),
    )


async def reading_exists(session: AsyncSession, submission_id: str) -> bool:
    found = await session.execute(select(Reading.id).where(Reading.submission_id == submission_id))
    return found.first() is not None


async def insert_reading(session: AsyncSession, values: dict[str, object]) -> int | None:
    """Insert a reading; None when the submission already has one (a re-run after a crash)."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(Reading)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["submission_id"])
        .returning(Reading.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def set_reading_event(session: AsyncSession, reading_id: int, event_id: int) -> None:
    await session.execute(update(Reading).where(Reading.id == reading_id).values(event_id=event_id))


async def set_submission_status(
    session: AsyncSession, submission_id: str, status: str, reason: str | None
) -> None:
    await session.execute(
        update(Submission)
        .where(Submission.id == submission_id)
        .values(status=status, status_reason=None if reason is None else reason[:500])
    )
