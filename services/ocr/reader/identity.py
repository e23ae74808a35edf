"""Which TPS the printed sheet belongs to: its QR code, else its printed identity line.

The markers say contest and page but cannot hold a 13-digit TPS code, so the QR code carries
`SRK1|<contest>|<tps>|<page>/<pages>`. It is decoded from a small rectified crop (6 px/mm,
~3 ms) instead of searched for in the whole photo (~40 ms). When the QR code is damaged,
Tesseract reads the monospace line `C.HASIL <contest> TPS <code> HAL <page>/<pages>`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import cv2

from services.ocr.reader.locate import Homography
from services.ocr.reader.photo import Gray
from services.ocr.reader.rectify import warp_region
from shared.forms.identity import parse_qr_payload
from shared.forms.layout import Layout, Rect

# A 29-module QR of 24 mm, rectified at ~5, ~7 and ~4 px per module in turn until one decodes.
# OpenCV's decoder fails on some crops at one scale and reads them at another. At 6 px/mm
# alone it read 282 of 285 typical benchmark photos; Tesseract then read the printed line,
# misread the code's 0 as 6 and sent the page to a person (12 of 892 typical pages). With the
# retries it read all 950 photos of a located page (typical) and 945 of 950 (hard). A retry
# costs one more ~3 ms crop, on ~1% of photos.
QR_PX_PER_MM = (6.0, 8.0, 5.0)
QR_MARGIN_MM = 3.0  # the quiet zone the decoder needs around the code
TEXT_PX_PER_MM = 10.0  # 3 mm capitals become 30 px: Tesseract's sweet spot
TESSDATA = os.environ.get("TESSDATA_PREFIX", "/usr/share/tesseract-ocr/5/tessdata/")
_IDENT = re.compile(r"C\.?HASIL\s+([A-Z_]+)\s+TPS\s+(\d{13})\s+HAL\s+(\d+)\s*/\s*(\d+)")


@dataclass(frozen=True, slots=True)
class PrintedIdentity:
    contest: str
    tps_code: str
    page: int
    source: str  # "qr" or "text"


def read_qr(gray: Gray, hom: Homography, lay: Layout) -> PrintedIdentity | None:
    q = lay.qr
    for px_per_mm in QR_PX_PER_MM:
        side = round((q.w + 2 * QR_MARGIN_MM) * px_per_mm)
        crop = warp_region(gray, hom, q, (side, side), QR_MARGIN_MM)
        for detector in _qr_detectors():
            try:
                text, _, _ = detector.detectAndDecode(crop)
            except cv2.error:
                # OpenCV's decoder raises on some misread symbols ("mode 10 is not implemented",
                # seen on a training-side threshold page) instead of returning nothing.
                continue
            ident = parse_qr_payload(text) if text else None
            if ident is not None:
                return PrintedIdentity(ident.contest.value, ident.tps_code, ident.page, "qr")
    return None


def _qr_detectors() -> tuple[Any, ...]:
    """The ArUco-based detector first: 3.5 ms a crop against 9.6 ms, but it reads only ~3 in 4
    (119 of 156 benchmark crops; the other found 154, and where both read, they agreed). The
    classic detector reads the rest. A payload is used only when it parses (`SRK1`, contest,
    13-digit TPS, page), and the QR code's error correction makes a wrong parse improbable.
    New detectors per photo (a few microseconds): OpenCV's keep state between calls."""
    return (cv2.QRCodeDetectorAruco(), cv2.QRCodeDetector())


@lru_cache(maxsize=1)
def tesseract() -> Any:
    """One Tesseract engine per worker process (~40 ms to load; ~15 MB)."""
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # Tesseract's OpenMP would take every core
    import tesserocr

    return tesserocr.PyTessBaseAPI(path=TESSDATA, lang="eng", psm=tesserocr.PSM.SINGLE_LINE)


def read_text(gray: Gray, hom: Homography, lay: Layout) -> PrintedIdentity | None:
    from PIL import Image

    r: Rect = lay.identity.rect
    crop = warp_region(
        gray, hom, r, (round(r.w * TEXT_PX_PER_MM), round(r.h * TEXT_PX_PER_MM)), 1.0
    )
    api = tesseract()
    api.SetImage(Image.fromarray(crop))
    found = _IDENT.search(api.GetUTF8Text().upper().replace(" ", " "))
    if found is None:
        return None
    return PrintedIdentity(found[1], found[2], int(found[3]), "text")


def read_identity(gray: Gray, hom: Homography, lay: Layout) -> PrintedIdentity | None:
    return read_qr(gray, hom, lay) or read_text(gray, hom, lay)
