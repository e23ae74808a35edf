"""The officials' dashboard: one HTML page, a small vanilla script and a stylesheet, no build."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

from shared.errors import NotFound

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).parent / "static"
FILES = {"app.js": "text/javascript", "style.css": "text/css"}


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/dashboard/")


@router.get("/dashboard/")
async def index() -> FileResponse:
    return FileResponse(
        STATIC / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"}
    )


@router.get("/dashboard/static/{name}")
async def static(name: str) -> FileResponse:
    if name not in FILES:
        raise NotFound("no such file", "Berkas tidak ditemukan.")
    return FileResponse(
        STATIC / name, media_type=FILES[name], headers={"Cache-Control": "no-cache"}
    )
