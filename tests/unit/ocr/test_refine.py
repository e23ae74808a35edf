"""Field refinement on a sheet bent by a known amount: every field is found where it is."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from services.ocr.reader.boxes import SAMPLE_PX_PER_MM
from services.ocr.reader.refine import field_offsets, outlines
from shared.forms.generate import page_symbols, render_filled
from shared.forms.layout import PAGE_W_MM, layout
from shared.forms.truth import make_truth

TPS = "1708042001001"
PPM = SAMPLE_PX_PER_MM  # the reader's sampling of the page


def _bent_page(
    contest: str, page: int, bow_mm: float
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The filled page with its print moved down by bow_mm * sin(pi x / width): the middle of a
    curled sheet, which no homography fitted on the corners follows. Returns the grey image and
    the range of each field's true vertical offset (mm) from its first box to its last."""
    rng = np.random.default_rng(7)
    truth = make_truth(contest, TPS, seed=3, dpt=240)
    img = render_filled(TPS, contest, page, page_symbols(truth, page, rng), PPM, rng).image
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    h, w = gray.shape
    xs = np.arange(w, dtype=np.float32)
    drop = bow_mm * np.sin(np.pi * xs / (PAGE_W_MM * PPM)) * PPM
    map_x = np.tile(xs, (h, 1))
    map_y = np.arange(h, dtype=np.float32)[:, None] - drop[None, :]
    bent = cv2.remap(gray, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    lay = layout(contest, TPS, page)
    truth_dy = []
    for f in lay.fields:
        left, right = f.boxes[0].x, f.boxes[-1].x + f.boxes[-1].w
        ends = [bow_mm * float(np.sin(np.pi * x / PAGE_W_MM)) for x in (left, right)]
        truth_dy.append((min(ends), max(ends)))  # the bend tilts a field's row of boxes
    return bent, truth_dy


@pytest.mark.parametrize(
    ("contest", "page", "bow_mm"),
    [
        ("DPRD_PROV", 6, 0.0),
        ("DPRD_PROV", 6, 4.5),  # beyond the +-2.5 mm of a field-by-field search
        ("DPRD_PROV", 6, -6.0),  # half a row: the rows one off are as close as the true ones
        ("DPR", 1, 6.5),
        ("DPRD_PROV", 6, -9.0),  # the most bent photos of the hard benchmark
    ],
)
def test_every_field_is_found_on_a_bent_sheet(contest: str, page: int, bow_mm: float) -> None:
    gray, truth_dy = _bent_page(contest, page, bow_mm)
    hom = np.diag([1 / PPM, 1 / PPM, 1.0])  # photo px -> page mm: the sheet is flat but bent
    lay = layout(contest, TPS, page)
    found = field_offsets(gray, hom, lay.fields)
    for f, (dx, dy), (low, high) in zip(lay.fields, found, truth_dy, strict=True):
        assert abs(dx) <= 0.5, f.key
        assert low - 0.5 <= dy <= high + 0.5, (f.key, dy, low, high)


def test_pen_strokes_are_not_taken_for_box_outlines() -> None:
    """Where glare has washed the print out, a blurred pen stroke (an X's arm) is darker than any
    outline left: only the thin printed line may answer, or the column is pulled off its rows
    (hard benchmark photo 2 lost 13 boxes so)."""
    region = np.full((60, 80), 250, dtype=np.uint8)
    region[15, 10:70] = 235  # the print, faded: one pixel (0.25 mm), 15 levels under the paper
    region[36:44, 10:70] = 150  # a pen stroke as long, 2 mm wide once blurred, far darker
    lines = outlines(region).astype(np.float32)
    print_response = lines[14:17].max()
    assert print_response > 0
    assert lines[30:50].max() < 0.5 * print_response
