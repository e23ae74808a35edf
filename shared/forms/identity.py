"""How a printed page says what it is: marker ids and the QR payload.

Marker ids (AprilTag 36h11, 587 ids) encode contest, page and corner, so a single detected
marker already tells the reader which form, which page and which way up the sheet is:

    id = MARKER_BASE + ((contest.ordinal * MAX_PAGES) + (page - 1)) * 4 + corner

with corner 0..3 = top-left, top-right, bottom-right, bottom-left. 5 contests x 16 pages x 4
corners = 320 ids. The TPS code does not fit in markers, so it is carried by a QR code whose
payload repeats contest and page (``SRK1:<contest ordinal>:<tps>:<page>:<pages>``, e.g.
``SRK1:0:1708042001001:1:2``) and, in print, by a text line Tesseract can read. The payload uses
only QR alphanumeric characters so it fits a version-1 code (21 modules): at 30 mm a module is
1.2 mm, about 4 px in a 1500 px photo, which still decodes after blur and JPEG.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2

from shared.contests import Contest

MARKER_DICT = cv2.aruco.DICT_APRILTAG_36h11
MARKER_BASE = 0
MAX_PAGES = 16
CORNERS = ("tl", "tr", "br", "bl")
QR_PREFIX = "SRK1"
QR_SEP = ":"


@dataclass(frozen=True, slots=True)
class MarkerId:
    contest: Contest
    page: int
    corner: int  # 0..3, index into CORNERS


@dataclass(frozen=True, slots=True)
class PageIdentity:
    contest: Contest
    tps_code: str
    page: int
    pages: int


def marker_id(contest: Contest, page: int, corner: int) -> int:
    if not 1 <= page <= MAX_PAGES or not 0 <= corner < 4:
        raise ValueError(f"page {page} / corner {corner} out of range")
    return MARKER_BASE + (contest.ordinal * MAX_PAGES + page - 1) * 4 + corner


def decode_marker_id(value: int) -> MarkerId | None:
    """The contest/page/corner a marker id stands for, or None for a foreign marker."""
    n = value - MARKER_BASE
    contests = list(Contest)
    if n < 0 or n >= len(contests) * MAX_PAGES * 4:
        return None
    slot, corner = divmod(n, 4)
    ordinal, page0 = divmod(slot, MAX_PAGES)
    return MarkerId(contests[ordinal], page0 + 1, corner)


def qr_payload(ident: PageIdentity) -> str:
    fields = (QR_PREFIX, ident.contest.ordinal, ident.tps_code, ident.page, ident.pages)
    return QR_SEP.join(map(str, fields))


def parse_qr_payload(text: str) -> PageIdentity | None:
    """Inverse of ``qr_payload``; None when the text is not one of this project's QR codes."""
    parts = text.split(QR_SEP)
    if len(parts) != 5 or parts[0] != QR_PREFIX:
        return None
    try:
        contest = list(Contest)[int(parts[1])]
        return PageIdentity(contest, parts[2], int(parts[3]), int(parts[4]))
    except (ValueError, IndexError):
        return None


def identity_text(ident: PageIdentity) -> str:
    """The printed identity line, in a monospace font for OCR."""
    return f"C.HASIL {ident.contest.value} TPS {ident.tps_code} HAL {ident.page}/{ident.pages}"
