"""The OCR benchmark's hand figures: which handwriting samples are misread wherever they are
written, and how the pages that carry them fare."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.hand_errors import HandErrors, written_many_times
from services.ocr.reader.classifier import default_classifier
from services.ocr.reader.result import Claim, PageReading
from services.ocr.reader.symbols import CLASSES
from shared.forms.mnist import digit_samples

CLAIM = Claim("1708042001001", "PPWP", 1, 200)


def _page(
    read: list[str], truth: list[str], hands: list[str]
) -> tuple[PageReading, dict[str, Any]]:
    """One field "a" whose boxes hold `truth`, written by `hands`, read as `read`."""
    reading = PageReading(outcome="auto_accepted", claim=CLAIM)
    for box, symbol in enumerate(read):
        probs = np.full(len(CLASSES), 0.01, dtype=np.float32)
        probs[CLASSES.index(symbol)] = 0.9
        reading.box_probs[("a", box)] = probs
    return reading, {"boxes": {"a": truth}, "hands": {"a": hands}}


def test_a_sample_misread_wherever_it_is_written_is_persistent(tmp_path: Path) -> None:
    errors = HandErrors()
    # eval:9:1 is read as 4 on all three pages it is on; eval:2:5 once in three.
    for k in range(3):
        reading, gt = _page(["X", "4", "2"], ["X", "9", "2"], ["x", "eval:9:1", "eval:2:5"])
        errors.add_page(reading, gt, accepted=False)
        misread_two = "3" if k == 0 else "2"
        reading, gt = _page(["X", misread_two, "1"], ["X", "2", "1"], ["x", "eval:2:5", "eval:1:0"])
        errors.add_page(reading, gt, accepted=k > 0)
    assert errors.persistent() == ["eval:9:1"]
    s = errors.summary()
    assert s["hands_misread"] == 2 and s["hands_seen"] == 3
    assert s["persistent_share_of_misreads"] == 0.75  # 3 of the 4 misread boxes
    assert s["pages_with_a_persistent_hand"] == 3 and s["their_auto_accept_rate"] == 0.0
    assert s["auto_accept_rate_without"] == round(2 / 3, 4)
    assert s["worst_hands"] == [{"hand": "eval:9:1", "misread": 3, "seen": 3, "read_as": "4"}]
    errors.draw(tmp_path / "hands.png")
    drawn = cv2.imread(str(tmp_path / "hands.png"), cv2.IMREAD_GRAYSCALE)
    assert drawn is not None and drawn.min() < 100  # the sample's ink is in the picture


def test_photos_cached_without_hands_give_no_figures() -> None:
    errors = HandErrors()
    reading, gt = _page(["1"], ["1"], ["eval:1:0"])
    del gt["hands"]
    errors.add_page(reading, gt, accepted=True)
    assert errors.summary() == {}


def test_every_evaluation_sample_is_written_and_read() -> None:
    errors = written_many_times(default_classifier(), writes=2)
    _, labels = digit_samples("eval")
    assert len(errors.seen) == len(labels) and set(errors.seen.values()) == {2}
    assert set(errors.misread) <= set(errors.seen)
    # The committed model reads these boxes like the benchmark's: ~99.4% of them right.
    assert sum(errors.misread.values()) < 0.02 * 2 * len(labels)
