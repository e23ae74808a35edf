"""Photos and box crops from the object store, public and immutable (content-addressed)."""

from __future__ import annotations

import re

from fastapi import APIRouter, Response

from services.tally.state import StateDep
from shared.errors import NotFound
from shared.storage import ObjectMissing, photo_key

router = APIRouter(tags=["photos"])
SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Crop keys come from readings; only plain relative keys, and never an unfinished upload.
CROP_KEY = re.compile(r"^(?!uploads/)[A-Za-z0-9][A-Za-z0-9_./-]{0,200}$")
IMMUTABLE = "public, max-age=31536000, immutable"


def _media_type(data: bytes) -> str:
    return "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"


@router.get("/photos/{sha256}")
async def photo(sha256: str, state: StateDep) -> Response:
    if not SHA256.match(sha256):
        raise NotFound("no such photo", "Foto tidak ditemukan.")
    try:
        data = await state.store.get(photo_key(sha256))
    except ObjectMissing:
        raise NotFound("no such photo", "Foto tidak ditemukan.") from None
    return Response(
        data,
        media_type=_media_type(data),
        headers={"Cache-Control": IMMUTABLE, "ETag": f'"{sha256}"'},
    )


@router.get("/crops/{key:path}")
async def crop(key: str, state: StateDep) -> Response:
    if not CROP_KEY.match(key) or ".." in key:
        raise NotFound("no such crop", "Potongan gambar tidak ditemukan.")
    try:
        data = await state.store.get(key)
    except (ObjectMissing, ValueError):
        raise NotFound("no such crop", "Potongan gambar tidak ditemukan.") from None
    return Response(data, media_type=_media_type(data), headers={"Cache-Control": IMMUTABLE})
