"""Find a printed page in a photo: its markers, its homography, its QR identity.

This is the geometric front half of reading a photo, shared by the OCR reader and the tests:

    loc = locate_page(photo)                 # markers -> contest, page, homography
    flat = rectify(photo, loc, px_per_mm=8)  # the page as if scanned, A4 at 8 px/mm
    ident = read_qr(flat, 8)                 # PageIdentity(contest, tps_code, page, pages)

Marker positions are the same on every page, so locating needs no TPS code; only the QR and
the printed identity line say which TPS the sheet belongs to.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import cast

import cv2
import numpy as np
import numpy.typing as npt

from shared.contests import Contest
from shared.forms.identity import (
    MARKER_DICT,
    PageIdentity,
    decode_marker_id,
    parse_qr_payload,
)
from shared.forms.layout import QR_MM, QR_RECT, canonical_size, marker_placements, rect_px

Image8 = npt.NDArray[np.uint8]
QR_CROP_MARGIN_MM = 6.0  # quiet zone plus slack for an imperfect rectification
MIN_MARKERS = 3  # with 3 of 4 corners the homography is still well conditioned
QR_SIDE_MODULES = 25  # version 1: 21 modules + 2 x 2 quiet zone


@dataclass(frozen=True)
class PageLocation:
    contest: Contest
    page: int
    corners_found: tuple[int, ...]  # 0..3 (TL, TR, BR, BL) of the markers detected
    homography: npt.NDArray[np.float64]  # photo pixels -> page millimetres
    foreign_markers: int  # detected markers of another contest/page (wrong or mixed sheet)

    @property
    def complete(self) -> bool:
        return len(self.corners_found) == 4


@lru_cache(maxsize=1)
def _detector() -> cv2.aruco.ArucoDetector:
    params = cv2.aruco.DetectorParameters()
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
    return cv2.aruco.ArucoDetector(cv2.aruco.getPredefinedDictionary(MARKER_DICT), params)


def detect_markers(image: Image8) -> list[tuple[int, npt.NDArray[np.float32]]]:
    """Every AprilTag 36h11 marker in ``image``: (id, its 4 corners in pixel coordinates)."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    corners, ids, _ = _detector().detectMarkers(gray)
    if ids is None:
        return []
    return [
        (int(i), np.asarray(c, dtype=np.float32).reshape(4, 2))
        for i, c in zip(ids.ravel(), corners, strict=True)
    ]


def locate_page(image: Image8) -> PageLocation | None:
    """The page the markers say this is, and the homography onto it; None if < 3 markers."""
    found = []
    for mid, pts in detect_markers(image):
        dec = decode_marker_id(mid)
        if dec is not None:
            found.append((dec, pts))
    if not found:
        return None
    (contest, page), _ = Counter((d.contest, d.page) for d, _ in found).most_common(1)[0]
    mine = [(d, p) for d, p in found if (d.contest, d.page) == (contest, page)]
    corners = sorted({d.corner for d, _ in mine})
    if len(corners) < MIN_MARKERS:
        return None
    placed = {m.corner: m.rect.corners for m in marker_placements(contest, page)}
    src = np.concatenate([p for _, p in mine]).astype(np.float64)
    dst = np.concatenate([placed[d.corner] for d, _ in mine])
    hom, _ = cv2.findHomography(src, dst, 0)
    if hom is None:
        return None
    homography = np.asarray(hom, dtype=np.float64)
    return PageLocation(contest, page, tuple(corners), homography, len(found) - len(mine))


def rectify(image: Image8, loc: PageLocation, px_per_mm: float) -> Image8:
    """Warp the photo onto the canonical page (``canonical_size(px_per_mm)``)."""
    scale = np.diag([px_per_mm, px_per_mm, 1.0])
    out = cv2.warpPerspective(
        image,
        scale @ loc.homography,
        canonical_size(px_per_mm),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return cast(Image8, out)


def read_qr(rectified: Image8, px_per_mm: float) -> PageIdentity | None:
    """Decode the identity QR code of a rectified page; None if unreadable or foreign."""
    x0, y0, x1, y1 = rect_px(QR_RECT, px_per_mm)
    m = round(QR_CROP_MARGIN_MM * px_per_mm)
    h, w = rectified.shape[:2]
    crop = rectified[max(0, y0 - m) : min(h, y1 + m), max(0, x0 - m) : min(w, x1 + m)]
    gray = crop if crop.ndim == 2 else cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    # QR modules decode best at 4+ px each; upsample small renders.
    module_px = px_per_mm * QR_MM / QR_SIDE_MODULES
    if module_px < 6:
        f = 6 / module_px
        gray = cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)
    detector = cv2.QRCodeDetector()
    text, _, _ = detector.detectAndDecode(gray)
    if not text:  # uneven light defeats the detector's own threshold; Otsu often rescues it
        _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        text, _, _ = detector.detectAndDecode(binary)
    return parse_qr_payload(text) if text else None
