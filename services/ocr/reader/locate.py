"""Find the page in the photo: its corner markers, what they say, and the homography to the page.

Every marker id encodes contest, page and corner (`shared.forms.identity`), so the markers alone
say which sheet this is; all detected markers must agree. The homography maps photo pixels to
page millimetres and is fitted on all 4 corners of every marker found (16 points when all four
are visible), so one marker's corner error is averaged out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import numpy.typing as npt

from services.ocr.reader.photo import Preview
from services.ocr.reader.reasons import MARKERS_MISSING, MIXED_MARKERS, POOR_FIT, Reason
from shared.contests import Contest
from shared.forms.identity import CORNERS, MARKER_DICT, decode_marker_id
from shared.forms.layout import layout, marker_corners_mm

Homography = npt.NDArray[np.float64]

# Three markers give 12 points spread over the whole page; with two the fit extrapolates over
# half the page and a 1 px corner error becomes > 1 mm at the far boxes.
MIN_MARKERS = 3
# The markers of a curled sheet do not lie on one plane: on the generator's hard photos their 16
# corners miss the fitted homography by up to ~1 mm RMS. The field search (`refine.py`) finds
# the boxes within +-5 mm across and +-10 mm down of where the homography puts them, so such a
# photo is read, not sent back to be taken again (it was, at 0.8 mm: 2% of hard photos). Worse
# than 1.5 mm is a folded sheet or a marker corner found in the wrong place.
MAX_REPROJECTION_MM = 1.5
# One adaptive-threshold window instead of OpenCV's three (3, 13, 23 px): on the 1000 px preview
# the 16 mm markers are 35-55 px and a 11 px window finds all of them on the generator's typical
# and hard photos (80 of 80), at 11 ms instead of 28 ms.
THRESHOLD_WINDOW = 11
# The printed number boxes (8 x 10 mm: 17-34 px on the preview) are dark quads too, and OpenCV
# decodes every quad it finds as a marker candidate: that was 20 of the 29 ms detection took.
# The first pass only looks at quads whose perimeter is >= 10% of the preview's long side
# (>= 25 px a side); it found all 1,168 markers of 292 typical and hard photos, at the same
# corners, in 8 ms. A photo where it finds fewer than all four (a page small in the frame, a
# cut corner) is searched again with OpenCV's default (>= 7.5 px a side).
FIRST_PASS_MIN_PERIMETER = 0.10


@dataclass(frozen=True, slots=True)
class Located:
    contest: Contest
    page: int
    homography: Homography  # photo px -> page mm
    markers: int
    reprojection_mm: float


@dataclass(frozen=True, slots=True)
class NotLocated:
    reason: Reason
    detail: str


@lru_cache(maxsize=2)
def _detector(first_pass: bool) -> cv2.aruco.ArucoDetector:
    params = cv2.aruco.DetectorParameters()
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
    params.adaptiveThreshWinSizeMin = THRESHOLD_WINDOW
    params.adaptiveThreshWinSizeMax = THRESHOLD_WINDOW
    if first_pass:
        params.minMarkerPerimeterRate = FIRST_PASS_MIN_PERIMETER
    return cv2.aruco.ArucoDetector(cv2.aruco.getPredefinedDictionary(MARKER_DICT), params)


def detect_markers(view: Preview) -> dict[int, npt.NDArray[np.float64]]:
    """Marker id -> its 4 corners in decoded-photo pixels (TL, TR, BR, BL of the marker)."""
    found = _detect(view, first_pass=True)
    if len(found) < len(CORNERS):  # one marker per corner of the page
        found = _detect(view, first_pass=False)
    return found


def _detect(view: Preview, first_pass: bool) -> dict[int, npt.NDArray[np.float64]]:
    corners, ids, _ = _detector(first_pass).detectMarkers(view.gray)
    found: dict[int, npt.NDArray[np.float64]] = {}
    if ids is None:
        return found
    for c, i in zip(corners, ids.ravel(), strict=True):
        found[int(i)] = np.asarray(c, dtype=np.float64).reshape(4, 2) / view.scale
    return found


def locate(view: Preview, tps_code: str) -> Located | NotLocated:
    """Identify the sheet from its markers and fit the photo -> page homography.

    `tps_code` only selects the layout (marker positions are the same for every TPS); the
    printed TPS is checked separately (`identity.py`).
    """
    found = detect_markers(view)
    decoded = {i: decode_marker_id(i) for i in found}
    ours = {i: m for i, m in decoded.items() if m is not None}
    if not ours:
        return NotLocated(MARKERS_MISSING, "no form marker found")
    sheets = Counter((m.contest, m.page) for m in ours.values())
    (contest, page), count = sheets.most_common(1)[0]
    if len(sheets) > 1:
        return NotLocated(MIXED_MARKERS, f"markers of {sorted(map(str, sheets))}")
    if count < MIN_MARKERS:
        return NotLocated(MARKERS_MISSING, f"{count} of {len(CORNERS)} markers found")
    try:
        lay = layout(contest, tps_code, page)
    except ValueError as exc:  # a page number this TPS's form does not have
        return NotLocated(MIXED_MARKERS, str(exc))
    expected = marker_corners_mm(lay)
    src = np.concatenate([found[i] for i in ours if i in expected])
    dst = np.concatenate([expected[i] for i in ours if i in expected])
    if len(src) < 4 * MIN_MARKERS:
        return NotLocated(MARKERS_MISSING, "markers do not belong to this layout")
    hom, _ = cv2.findHomography(src, dst, 0)
    if hom is None:
        return NotLocated(POOR_FIT, "homography failed")
    projected = cv2.perspectiveTransform(src.reshape(-1, 1, 2), hom).reshape(-1, 2)
    rms = float(np.sqrt(np.mean(np.sum((projected - dst) ** 2, axis=1))))
    if rms > MAX_REPROJECTION_MM:
        return NotLocated(POOR_FIT, f"reprojection error {rms:.2f} mm")
    return Located(contest, page, np.asarray(hom, dtype=np.float64), count, rms)
