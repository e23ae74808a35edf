"""Correct each field's position locally: a curled sheet bends away from any homography.

The marker homography is exact only where the paper is flat. A sheet curling by 8 mm (the
generator's "hard" ceiling) bows the middle of the page by up to ~9 mm; half a box is enough to
cut the bar off a 7 (read as 1, the commonest misread on hard photos until this search). Each
field's three box outlines are printed, so they are found again by template matching: on the
outlines alone (`outlines`), since the digits' ink outweighs the faint red print in a plain
correlation.

Rows repeat every 12.4 mm, so a search wide enough for the bow (+-SEARCH_Y_MM) also finds the
row above or below, and a field alone cannot tell which is its own. A column of fields can: the
bend is smooth, so neighbouring fields move by nearly the same amount, and one row off, the
column's first or last field sits where the table has no box. Each column's vertical offsets
are chosen together as the best-scoring smooth path (Viterbi) from a row above its first field
to a row below its last, where a box-like match counts against the path; then the sideways
offsets the same way. A field whose outlines are hidden (ink over them, shadow) takes its
position from the path.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import lru_cache

import cv2
import numpy as np
import numpy.typing as npt

from services.ocr.reader.locate import Homography
from services.ocr.reader.photo import Gray
from services.ocr.reader.rectify import warp_region
from shared.forms.layout import ROW_H_MM, FieldPlacement, Rect

Offset = tuple[float, float]  # (dx, dy) page mm to add to a field's layout position
Scores = npt.NDArray[np.float32]

PX_PER_MM = 4.0  # box borders are 0.25 mm: one pixel at this scale, enough to match on
# Box tops are 8 mm long and sides 10 mm; a handwritten stroke is rarely straight for 6 mm
# across, but the stem of a 1 can stand 7 mm tall.
ACROSS_MM = 6.0
DOWN_MM = 8.5
SEARCH_Y_MM = 10.0  # the hard benchmark's most bent photos put fields ~9 mm off
# Boxes repeat every 10.5 mm across: a wider window would match two boxes of three one box off.
SEARCH_X_MM = 5.0
# Box outlines are 0.25 mm: one pixel here, a few after a hard photo's blur. Pen strokes
# blurred as much are wider, an X's arms and crossing far wider. Only dark structures narrower
# than THIN_PX count as outline: where glare had washed the print out (hard benchmark photo 2),
# the X's posed as outlines and pulled a column 3.5 mm up, misreading 13 boxes. Measured on
# that column, 3 to 9 px keep it on its rows and 15 px or more do not.
THIN_PX = 5
# Neighbouring fields' offsets differ by ~SMOOTH mm per mm between them (the generator's
# hardest curl bends < 0.15 mm per mm); a difference of d costs BEND_COST * (d / (SMOOTH *
# distance))^2 against a correlation of at most 1.
SMOOTH = 0.08
BEND_COST = 0.1
# The homography is right to within a few mm on most photos: on a faint page, where a column's
# true rows and the rows one off score alike, the smaller offset wins. A column's path pays
# OFFSET_COST at OFFSET_MM, shared among its fields: a tie-breaker, which the column's end rows
# (on boxes or off the table) outweigh.
OFFSET_MM = 6.0
OFFSET_COST = 0.1


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


def outlines(region: Gray) -> Gray:
    """Long, thin, straight lines only, dark-is-high: the box outlines without the digits."""
    inverted = cv2.GaussianBlur(255 - region, (3, 3), 0.7)
    thin = cv2.morphologyEx(inverted, cv2.MORPH_TOPHAT, np.ones((THIN_PX, THIN_PX), np.uint8))
    across_px, down_px = round(ACROSS_MM * PX_PER_MM), round(DOWN_MM * PX_PER_MM)
    across = cv2.morphologyEx(thin, cv2.MORPH_OPEN, np.ones((1, across_px), np.uint8))
    down = cv2.morphologyEx(thin, cv2.MORPH_OPEN, np.ones((down_px, 1), np.uint8))
    return np.asarray(cv2.max(across, down), dtype=np.uint8)


def column_scores(
    gray: Gray, hom: Homography, like: FieldPlacement, ys: Sequence[float]
) -> list[tuple[Scores, float]]:
    """The correlation of `like`'s box outlines, moved to each page y in `ys` (same x), at every
    offset within the search window (row = dy, column = dx, one pixel = 1 / PX_PER_MM mm), and
    the dy of each map's row 0. The column is warped and matched as one strip: one warp and one
    correlation instead of one per field, whose windows overlap."""
    first = group_rect(like)
    mx, my = SEARCH_X_MM, SEARCH_Y_MM
    top = min(ys) - my
    strip = Rect(first.x - mx, top, first.w + 2 * mx, max(ys) + first.h + my - top)
    size = (round(strip.w * PX_PER_MM), round(strip.h * PX_PER_MM))
    region = warp_region(gray, hom, strip, size)
    xs = tuple(b.x - first.x for b in like.boxes)
    tmpl = _template(first.w, first.h, xs, like.boxes[0].w)
    lines = outlines(region).astype(np.float32)  # matchTemplate is ~40% faster on float32
    scores = cv2.matchTemplate(lines, tmpl.astype(np.float32), cv2.TM_CCOEFF_NORMED)
    rows = round(2 * my * PX_PER_MM) + 1
    out: list[tuple[Scores, float]] = []
    for y in ys:
        r0 = min(round((y - my - top) * PX_PER_MM), len(scores) - rows)
        out.append((np.asarray(scores[r0 : r0 + rows], dtype=np.float32), top + r0 / PX_PER_MM - y))
    return out


def _smooth_path(gains: list[npt.NDArray[np.float64]], ys: list[float]) -> list[int]:
    """One index into each gain vector (offsets along one axis, the window's centre = no
    offset), top to bottom: the path maximising the gains minus the bend's cost (Viterbi)."""
    n = len(gains[0])
    steps = np.arange(n, dtype=np.float64)[:, None] - np.arange(n, dtype=np.float64)[None, :]
    total = gains[0]
    back: list[npt.NDArray[np.intp]] = []
    for k in range(1, len(gains)):
        sigma = SMOOTH * max(ys[k] - ys[k - 1], 1.0) * PX_PER_MM
        # cand[i, j]: node k at index i after node k - 1 at index j
        cand = total[None, :] - BEND_COST * (steps / sigma) ** 2
        back.append(np.argmax(cand, axis=1))
        total = cand[np.arange(n), back[-1]] + gains[k]
    path = [int(np.argmax(total))]
    for b in reversed(back):
        path.append(int(b[path[-1]]))
    return path[::-1]


def _gains(
    scores: list[npt.NDArray[np.float32]], boxes: list[bool]
) -> list[npt.NDArray[np.float64]]:
    """What each node of a column's path earns at each offset: a field the match of its
    outlines, an end of the table (no box there) minus it; less the share of the offset prior."""
    n = len(scores[0])
    off = (np.arange(n, dtype=np.float64) - (n - 1) / 2) / PX_PER_MM
    prior = OFFSET_COST / sum(boxes) * (off / OFFSET_MM) ** 2
    signs = [1.0 if b else -1.0 for b in boxes]
    return [sign * np.maximum(s, 0.0) - prior for s, sign in zip(scores, signs, strict=True)]


def field_offsets(gray: Gray, hom: Homography, fields: Sequence[FieldPlacement]) -> list[Offset]:
    """Each field's (dx, dy) in page mm, in the order of `fields`."""
    columns: dict[tuple[float, int, float], list[int]] = defaultdict(list)
    for i, f in enumerate(fields):
        columns[(round(f.boxes[0].x, 1), len(f.boxes), f.boxes[0].w)].append(i)
    out: list[Offset] = [(0.0, 0.0)] * len(fields)
    for members in columns.values():
        members.sort(key=lambda i: fields[i].boxes[0].y)
        # The path runs from a row above the column's first field to one below its last: one
        # row off, a field would sit where the table has no box.
        ys = [fields[i].boxes[0].y for i in members]
        ys = [ys[0] - ROW_H_MM, *ys, ys[-1] + ROW_H_MM]
        boxes = [False] + [True] * len(members) + [False]
        found = column_scores(gray, hom, fields[members[0]], ys)
        maps = [m for m, _ in found]
        # First the rows (each at its best sideways offset), then the sideways offsets on them.
        rows = _smooth_path(_gains([m.max(axis=1) for m in maps], boxes), ys)
        cols = _smooth_path(_gains([m[r] for m, r in zip(maps, rows, strict=True)], boxes), ys)
        fields_only = slice(1, -1)  # the path's end rows are evidence, not fields
        placed = zip(members, found[fields_only], rows[fields_only], cols[fields_only], strict=True)
        for i, (_, dy0), r, c in placed:
            out[i] = (c / PX_PER_MM - SEARCH_X_MM, dy0 + r / PX_PER_MM)
    return out


def shifted(rect: Rect, offset: Offset) -> Rect:
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
