"""C.Hasil page layouts as data, in millimetres on an A4 portrait page (origin top-left).

The renderer, the photo generator and the reader all derive every position from
``layout(contest, tps_code, page)``; nothing else in the project hard-codes a coordinate.
Rows and columns come from the contest definition (``FieldDef.page/column/row``); this module
only turns them into rectangles. ``page_to_px`` maps millimetres to the pixels of a rectified
page image rendered at ``px_per_mm`` (e.g. 8 px/mm ~ 203 dpi), so a reader that warps a photo
onto ``canonical_size(px_per_mm)`` with ``marker_corners_mm`` can crop boxes directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from shared.contests import Contest, definition
from shared.contests.definition import COLUMN_ROWS
from shared.forms.identity import PageIdentity, identity_text, marker_id, qr_payload

PAGE_W_MM = 210.0
PAGE_H_MM = 297.0
MARKER_MM = 16.0  # ~130 px in a 2000 px photo: detected even when blurred
MARKER_MARGIN_MM = 8.0
QR_MM = 30.0  # includes the 2-module quiet zone of a version-1 code
ROWS_TOP_MM = 42.0
ROW_H_MM = 12.4  # 18 rows end at 265 mm, above the bottom markers (273 mm)
COLUMN_X_MM = (10.0, 108.0)
COLUMN_W_MM = 92.0
BOX_W_MM = 8.0  # ~55 px per box at 2000 px: room for a handwritten digit
BOX_H_MM = 10.0
BOX_GAP_MM = 2.5  # separate boxes, so a digit never touches its neighbour
LABEL_W_MM = COLUMN_W_MM - 3 * BOX_W_MM - 2 * BOX_GAP_MM - 3.0


@dataclass(frozen=True, slots=True)
class Rect:
    """An axis-aligned rectangle in page millimetres."""

    x: float
    y: float
    w: float
    h: float

    @property
    def corners(self) -> npt.NDArray[np.float64]:
        """TL, TR, BR, BL, as (4, 2)."""
        x, y, w, h = self.x, self.y, self.w, self.h
        return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class MarkerPlacement:
    id: int
    corner: int
    rect: Rect


@dataclass(frozen=True, slots=True)
class TextPlacement:
    text: str
    rect: Rect
    size_mm: float  # cap height of the font
    style: str = "regular"  # regular | bold | mono


@dataclass(frozen=True, slots=True)
class FieldPlacement:
    key: str
    label_id: str
    label_en: str
    label: Rect
    boxes: tuple[Rect, ...]


@dataclass(frozen=True)
class Layout:
    contest: Contest
    tps_code: str
    page: int
    pages: int
    width_mm: float
    height_mm: float
    markers: tuple[MarkerPlacement, ...]
    qr: Rect
    qr_payload: str
    identity: TextPlacement
    texts: tuple[TextPlacement, ...]  # titles and section headings
    fields: tuple[FieldPlacement, ...]

    @property
    def identity_obj(self) -> PageIdentity:
        return PageIdentity(self.contest, self.tps_code, self.page, self.pages)


# Same place on every page, so a reader can decode it before it knows the TPS.
QR_RECT = Rect(PAGE_W_MM - MARKER_MARGIN_MM - MARKER_MM - 2.0 - QR_MM, 5.0, QR_MM, QR_MM)


def _row_y(row: int) -> float:
    return ROWS_TOP_MM + row * ROW_H_MM


def _box_rects(column: int, row: int, n: int) -> tuple[Rect, ...]:
    right = COLUMN_X_MM[column] + COLUMN_W_MM
    x0 = right - n * BOX_W_MM - (n - 1) * BOX_GAP_MM
    y = _row_y(row) + (ROW_H_MM - BOX_H_MM) / 2
    return tuple(Rect(x0 + i * (BOX_W_MM + BOX_GAP_MM), y, BOX_W_MM, BOX_H_MM) for i in range(n))


def marker_placements(contest: Contest, page: int) -> tuple[MarkerPlacement, ...]:
    """The four markers of a page; their positions are the same on every page."""
    m, s = MARKER_MARGIN_MM, MARKER_MM
    origins = [
        (m, m),
        (PAGE_W_MM - m - s, m),
        (PAGE_W_MM - m - s, PAGE_H_MM - m - s),
        (m, PAGE_H_MM - m - s),
    ]
    return tuple(
        MarkerPlacement(marker_id(contest, page, c), c, Rect(x, y, s, s))
        for c, (x, y) in enumerate(origins)
    )


@lru_cache(maxsize=512)
def layout(contest: Contest | str, tps_code: str, page: int) -> Layout:
    """The layout of one printed page (1-based) of ``contest``'s form for ``tps_code``."""
    contest = Contest(contest)
    defn = definition(contest, tps_code)
    if not 1 <= page <= defn.pages:
        raise ValueError(f"{contest} has pages 1..{defn.pages}, not {page}")
    ident = PageIdentity(contest, tps_code, page, defn.pages)
    left = MARKER_MARGIN_MM + MARKER_MM + 4.0
    texts = [
        TextPlacement("FORMULIR MODEL C.HASIL", Rect(left, 9.0, 110, 5), 3.6, "bold"),
        TextPlacement(contest.title_id, Rect(left, 15.5, 110, 4), 2.8, "bold"),
        TextPlacement(contest.title_en, Rect(left, 20.5, 110, 3.5), 2.2),
    ]
    if defn.dapil != "PPWP-NASIONAL":
        texts.append(TextPlacement(f"Dapil {defn.dapil}", Rect(left, 30.5, 110, 3.5), 2.4))
    for sec in defn.page_sections(page):
        y = _row_y(sec.row)
        x = COLUMN_X_MM[sec.column]
        texts.append(TextPlacement(sec.title_id, Rect(x, y + 3.0, COLUMN_W_MM, 4), 2.8, "bold"))
        texts.append(TextPlacement(sec.title_en, Rect(x, y + 8.0, COLUMN_W_MM, 3), 2.1))
    fields = []
    for f in defn.page_fields(page):
        x = COLUMN_X_MM[f.column]
        fields.append(
            FieldPlacement(
                key=f.key,
                label_id=f.label_id,
                label_en=f.label_en,
                label=Rect(x, _row_y(f.row), LABEL_W_MM, ROW_H_MM),
                boxes=_box_rects(f.column, f.row, f.boxes),
            )
        )
    assert max((f.row for f in defn.page_fields(page)), default=0) < COLUMN_ROWS
    return Layout(
        contest=contest,
        tps_code=tps_code,
        page=page,
        pages=defn.pages,
        width_mm=PAGE_W_MM,
        height_mm=PAGE_H_MM,
        markers=marker_placements(contest, page),
        qr=QR_RECT,
        qr_payload=qr_payload(ident),
        # 46 characters at most (DPRD_KABKOTA, page 10+) at 2.3 mm each: 106 mm of 124.
        identity=TextPlacement(identity_text(ident), Rect(left, 25.0, 124, 4.5), 2.8, "mono"),
        texts=tuple(texts),
        fields=tuple(fields),
    )


def box_rects(lay: Layout) -> dict[tuple[str, int], Rect]:
    """Every box of the page: ``(field_key, box_index) -> Rect``; box 0 is the hundreds."""
    return {(f.key, i): r for f in lay.fields for i, r in enumerate(f.boxes)}


def marker_corners_mm(lay: Layout) -> dict[int, npt.NDArray[np.float64]]:
    """Marker id -> its 4 outer corners (TL, TR, BR, BL), the order cv2.aruco reports."""
    return {m.id: m.rect.corners for m in lay.markers}


def canonical_size(px_per_mm: float) -> tuple[int, int]:
    """(width, height) in pixels of a rectified page at ``px_per_mm``."""
    return round(PAGE_W_MM * px_per_mm), round(PAGE_H_MM * px_per_mm)


def page_to_px(points_mm: npt.ArrayLike, px_per_mm: float) -> npt.NDArray[np.float64]:
    """Page millimetres -> pixel coordinates of the rectified page (pixel centres at +0.5)."""
    return np.asarray(points_mm, dtype=np.float64) * px_per_mm


def rect_px(rect: Rect, px_per_mm: float) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` integer pixel bounds of ``rect`` (x1/y1 exclusive)."""
    return (
        round(rect.x * px_per_mm),
        round(rect.y * px_per_mm),
        round((rect.x + rect.w) * px_per_mm),
        round((rect.y + rect.h) * px_per_mm),
    )
