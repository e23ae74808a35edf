"""Bulk export: every TPS's counted result as CSV (long: one field per line) or JSON Lines."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from services.tally.export.stream import Format, export_lines
from services.tally.state import StateDep
from shared.contests import Contest

router = APIRouter(prefix="/api/v1/export", tags=["export"])
MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


@router.get("/results.{fmt}")
async def export(state: StateDep, fmt: Format, contest: Contest | None = None) -> StreamingResponse:
    name = f"sirekap-{contest.value if contest else 'all'}.{fmt}"
    return StreamingResponse(
        export_lines(state.db, fmt, contest.value if contest else None),
        media_type=MEDIA[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "public, max-age=60",
        },
    )
