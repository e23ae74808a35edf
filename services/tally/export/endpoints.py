"""Bulk export: every TPS's counted result as CSV (long: one field per line) or JSON Lines."""

from __future__ import annotations

import os

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from services.tally.export.files import MAX_AGE_S, read_chunks
from services.tally.export.stream import Format
from services.tally.state import StateDep
from shared.contests import Contest

router = APIRouter(prefix="/api/v1/export", tags=["export"])
MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


@router.get("/results.{fmt}")
async def export(
    state: StateDep, request: Request, fmt: Format, contest: Contest | None = None
) -> StreamingResponse:
    """As of at most a minute ago: the export is written once a minute and shared
    (`services/tally/export/files.py`); as of now with `Cache-Control: no-cache`."""
    name = f"sirekap-{contest.value if contest else 'all'}.{fmt}"
    asked = request.headers.get("cache-control", "").lower()
    fresh = "no-cache" in asked or "max-age=0" in asked
    file = await state.exports.open(fmt, contest.value if contest else None, fresh=fresh)
    return StreamingResponse(
        read_chunks(file),
        media_type=MEDIA[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Content-Length": str(os.fstat(file.fileno()).st_size),
            "Cache-Control": f"public, max-age={MAX_AGE_S:.0f}",
        },
    )
