"""The marker-fit gate: corners that no single plane explains are a retake, not a read.

The corners are those found on a real generated photo; then one of them is moved by a known
distance, as a crease through a marker or a misdetected corner would move it. (A whole marker
moved rigidly is no test of the gate: a homography has eight degrees of freedom and maps any
four points onto any four, so four markers moved as wholes always fit; the field search,
`refine.py`, is what follows the page between them.)
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from services.ocr.reader import locate as locate_module
from services.ocr.reader.classifier import default_classifier
from services.ocr.reader.locate import MAX_REPROJECTION_MM, Located, NotLocated, locate
from services.ocr.reader.page import read_page
from services.ocr.reader.photo import Preview, decode, preview
from services.ocr.reader.result import Claim
from shared.forms.generate import generate_photo
from shared.forms.truth import make_truth

TPS = "1708042001001"
DPT = 240
Corners = dict[int, npt.NDArray[np.float64]]


@pytest.fixture(scope="module")
def photo() -> tuple[bytes, Preview, Corners]:
    truth = make_truth("PPWP", TPS, seed=11, dpt=DPT)
    jpeg, _ = generate_photo(TPS, "PPWP", 1, truth, "clean", seed=4, side="eval")
    decoded = decode(jpeg)
    assert decoded is not None
    view = preview(decoded)
    found = locate_module.detect_markers(view)
    assert len(found) == 4
    return jpeg, view, found


def _moved(found: Corners, mm: float) -> Corners:
    """`found` with the bottom-right corner of its first marker moved `mm` millimetres right
    and down (in photo pixels, scaled by the marker's own size: the markers are 16 mm wide)."""
    first = min(found)
    corners = found[first].copy()
    px_per_mm = float(np.linalg.norm(corners[1] - corners[0])) / 16.0
    corners[2] += mm / np.sqrt(2) * px_per_mm
    return {**found, first: corners}


def test_a_flat_sheet_fits_well_inside_the_gate(photo: tuple[bytes, Preview, Corners]) -> None:
    _, view, _ = photo
    found = locate(view, TPS)
    assert isinstance(found, Located)
    assert found.markers == 4 and found.reprojection_mm < 0.5 * MAX_REPROJECTION_MM


# One corner moved 6 mm leaves 1.3 mm RMS over the 16 corners, 8 mm leaves 1.8 mm.
@pytest.mark.parametrize(("moved_mm", "fits"), [(2.0, True), (10.0, False)])
def test_a_displaced_marker_is_judged_by_the_fit(
    photo: tuple[bytes, Preview, Corners],
    monkeypatch: pytest.MonkeyPatch,
    moved_mm: float,
    fits: bool,
) -> None:
    _, view, found = photo
    monkeypatch.setattr(locate_module, "detect_markers", lambda _: _moved(found, moved_mm))
    located = locate(view, TPS)
    if fits:
        assert isinstance(located, Located)
    else:
        assert isinstance(located, NotLocated)
        assert located.reason.code == "poor_fit" and "reprojection error" in located.detail


def test_a_folded_sheet_is_a_retake_with_the_reason(
    photo: tuple[bytes, Preview, Corners], monkeypatch: pytest.MonkeyPatch
) -> None:
    jpeg, _, found = photo
    monkeypatch.setattr(locate_module, "detect_markers", lambda _: _moved(found, 10.0))
    reading = read_page(jpeg, Claim(TPS, "PPWP", 1, DPT), default_classifier())
    assert reading.outcome == "retake"
    assert reading.reason is not None and reading.reason.code == "poor_fit"
    assert reading.reason.id != reading.reason.en  # Bahasa Indonesia beside the English
    assert not reading.fields  # nothing was read into the slots


def test_a_page_small_in_the_frame_is_found_by_the_second_pass(
    photo: tuple[bytes, Preview, Corners],
) -> None:
    """The first pass skips quads under ~25 px a side (the printed boxes); a page photographed
    from far away has markers that small, and must still be found, at the same place."""
    _, view, found = photo
    canvas = np.full_like(view.gray, int(np.median(view.gray)))
    h, w = view.gray.shape
    small = cv2.resize(view.gray, (int(w * 0.4), int(h * 0.4)), interpolation=cv2.INTER_AREA)
    canvas[: small.shape[0], : small.shape[1]] = small
    far = Preview(canvas, view.scale)
    assert len(locate_module._detect(far, first_pass=True)) < 4
    again = locate_module.detect_markers(far)
    assert set(again) == set(found)
    for i, corners in found.items():
        assert np.abs(again[i] - corners * 0.4).max() < 2.0 / view.scale  # 2 preview px
