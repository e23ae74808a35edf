"""Cut page regions (boxes, the QR code, the identity line) out of the photo, rectified.

Only the regions are warped, never the whole page: 75 boxes of 32x40 px cost ~1 ms where a
full 8 px/mm page warp costs ~15 ms. `shrink` first scales the photo down (`photo.downscale`),
so the linear warp that follows does not alias the 1 px pen strokes of a large photo.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from services.ocr.reader.locate import Homography
from services.ocr.reader.photo import Gray, downscale
from shared.forms.layout import PAGE_H_MM, PAGE_W_MM, Rect


def warp_region(
    gray: Gray, hom: Homography, rect: Rect, size: tuple[int, int], margin_mm: float = 0.0
) -> Gray:
    """The page rectangle `rect` (grown by `margin_mm`) as a `size` = (w, h) image."""
    w, h = size
    x0, y0 = rect.x - margin_mm, rect.y - margin_mm
    sx = w / (rect.w + 2 * margin_mm)
    sy = h / (rect.h + 2 * margin_mm)
    page_to_out = np.array([[sx, 0, -x0 * sx], [0, sy, -y0 * sy], [0, 0, 1]], dtype=np.float64)
    m = page_to_out @ hom
    out = cv2.warpPerspective(
        gray, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return np.asarray(out, dtype=np.uint8)


def photo_px_per_mm(hom: Homography, at_mm: tuple[float, float]) -> float:
    """How many photo pixels one page millimetre spans near `at_mm` (for choosing filters)."""
    inv = np.linalg.inv(hom)
    pts = np.array([[at_mm, (at_mm[0] + 1, at_mm[1])]], dtype=np.float64).reshape(-1, 1, 2)
    p = cv2.perspectiveTransform(pts, inv).reshape(-1, 2)
    return float(np.linalg.norm(p[1] - p[0]))


def shrink(gray: Gray, hom: Homography, target_px_per_mm: float) -> tuple[Gray, Homography]:
    """Scale the photo so one page millimetre spans about `target_px_per_mm` photo pixels
    (never up), and the homography with it."""
    ppm = photo_px_per_mm(hom, (105.0, 150.0))
    scale = target_px_per_mm / ppm
    if scale >= 1.0:
        return gray, hom
    h, w = gray.shape[:2]
    small = downscale(gray, (round(w * scale), round(h * scale)))
    sx, sy = small.shape[1] / w, small.shape[0] / h
    unscale = np.diag([1.0 / sx, 1.0 / sy, 1.0])
    return small, hom @ unscale


def page_outline(hom: Homography, scale: float = 1.0) -> npt.NDArray[np.float64]:
    """The sheet's four corners in photo pixels, times `scale` (the preview's, say)."""
    corners = np.array([[[0, 0], [PAGE_W_MM, 0], [PAGE_W_MM, PAGE_H_MM], [0, PAGE_H_MM]]], float)
    px = cv2.perspectiveTransform(corners, np.linalg.inv(hom)).reshape(-1, 2)
    return np.asarray(px * scale, dtype=np.float64)
