"""The photo checks' thresholds come from training-side photos: the chooser and a small run."""

from __future__ import annotations

import pytest

from services.ocr.reader.photo import MIN_PAPER_BRIGHTNESS, MIN_SHARPNESS
from services.ocr.train.photo_checks import measure, middle_of_gap, photo_kind, summarise


def test_the_threshold_is_the_geometric_middle_of_the_gap() -> None:
    assert middle_of_gap(36, 64) == 48
    assert middle_of_gap(0, 100) == 10  # a bad photo at 0 counts as 1
    with pytest.raises(ValueError, match="no gap"):
        middle_of_gap(60, 59)


def test_a_few_training_photos_put_the_committed_thresholds_in_their_gaps() -> None:
    # One of each kind at every difficulty the first photos draw; the full run is a command.
    measured = [measure(i) for i in range(12)]
    assert {m.kind for m in measured} == {"usable", "blurred", "dark"}
    assert [photo_kind(i) for i in range(6)].count("usable") == 4
    summary = summarise(measured)
    brightness, sharpness = summary["brightness"], summary["sharpness"]
    assert isinstance(brightness, dict) and isinstance(sharpness, dict)
    assert brightness["dark"][1] < MIN_PAPER_BRIGHTNESS < brightness["usable"][0]
    assert sharpness["blurred"][1] < MIN_SHARPNESS < sharpness["usable"][0]
