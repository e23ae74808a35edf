"""Correct each field's position locally: a curled sheet bends away from any homography.

The marker homography is exact only where the paper is flat; a sheet curling by 4 mm (the
generator's "typical" ceiling) moves mid-page boxes by 1-2 mm, enough to cut a digit. Each
field's three box outlines are printed, so they are found again by template matching in a
window of +-MAX_SHIFT_MM around where the homography puts them.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from services.ocr.reader.locate import Homography
from services.ocr.reader.photo import Gray
from services.ocr.reader.rectify import warp_region
from shared.forms.layout import FieldPlacement, Rect

PX_PER_MM = 4.0  # box borders are 0.25 mm: one pixel at this scale, enough to match on
MAX_SHIFT_MM = 2.5
# Below this normalised correlation the outlines are not visibly there (ink over them, shadow);
# the homography's position is kept. Matches on generated photos score 0.5-0.9.
MIN_SCORE = 0.35


def group_rect(field: FieldPlacement) -> Rect:
    first, last = field.boxes[0], field.boxes[-1]
    return Rect(first.x, first.y, last.x + last.w - first.x, first.h)


@lru_cache(maxsize=8)
def _template(w_mm: float, h_mm: float, box_xs: tuple[float, ...], box_w: float) -> Gray:
    """The box outlines as a dark-is-high template at PX_PER_MM."""
    w, h = round(w_mm * PX_PER_MM), round(h_mm * PX_PER_MM)
    t = np.zeros((h, w), dtype=np.uint8)
    for x in box_xs:
        x0 = round(x * PX_PER_MM)
        x1 = round((x + box_w) * PX_PER_MM) - 1
        cv2.rectangle(t, (x0, 0), (x1, h - 1), 255, 1)
    return np.asarray(cv2.GaussianBlur(t, (3, 3), 0.7), dtype=np.uint8)


def field_offset(gray: Gray, hom: Homography, field: FieldPlacement) -> tuple[float, float]:
    """(dx, dy) in page mm to add to the field's layout position."""
    rect = group_rect(field)
    m = MAX_SHIFT_MM
    size = (round((rect.w + 2 * m) * PX_PER_MM), round((rect.h + 2 * m) * PX_PER_MM))
    region = warp_region(gray, hom, rect, size, m)
    inverted = cv2.GaussianBlur(255 - region, (3, 3), 0.7)
    xs = tuple(b.x - rect.x for b in field.boxes)
    tmpl = _template(rect.w, rect.h, xs, field.boxes[0].w)
    scores = cv2.matchTemplate(inverted, tmpl, cv2.TM_CCOEFF_NORMED)
    _, best, _, (bx, by) = cv2.minMaxLoc(scores)
    if best < MIN_SCORE:
        return 0.0, 0.0
    return bx / PX_PER_MM - m, by / PX_PER_MM - m


def shifted(rect: Rect, offset: tuple[float, float]) -> Rect:
    return Rect(rect.x + offset[0], rect.y + offset[1], rect.w, rect.h)


def outside(inv: Homography, rect: Rect, width: int, height: int) -> bool:
    """True when part of `rect` (page mm) falls outside the photo; `inv` maps page mm to photo
    pixels (the inverse of the reader's homography)."""
    pts = cv2.perspectiveTransform(rect.corners.reshape(-1, 1, 2), inv).reshape(-1, 2)
    return bool(
        (pts[:, 0] < 0).any()
        or (pts[:, 1] < 0).any()
        or (pts[:, 0] >= width).any()
        or (pts[:, 1] >= height).any()
    )
