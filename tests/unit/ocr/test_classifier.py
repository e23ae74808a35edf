"""The classifier's second look: only unsure boxes are read again, from shifted views, and
their probabilities are those of the views' averaged log-probabilities."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from services.ocr.reader import classifier as classifier_module
from services.ocr.reader.classifier import (
    SECOND_LOOK_BELOW,
    SECOND_LOOK_SHIFTS,
    Classifier,
    default_classifier,
    shift,
)


@pytest.fixture(scope="module")
def model() -> Classifier:
    return default_classifier()


def _boxes() -> np.ndarray:
    """A stroke drawn cleanly (a sure "1"), faint scribbles (unsure), and blank paper."""
    rng = np.random.default_rng(5)
    batch = np.zeros((6, 1, 40, 32), dtype=np.float32)
    batch[0, 0, 6:34, 15:18] = 1.0
    for i in range(1, 5):
        batch[i, 0] = (rng.random((40, 32)) < 0.08) * rng.uniform(0.3, 0.8)
    return batch


def test_shift_moves_ink_and_brings_in_paper() -> None:
    x = np.arange(12, dtype=np.float32).reshape(1, 1, 3, 4)
    right = shift(x, 1, 0)
    assert right[0, 0, :, 0].tolist() == [0, 0, 0]
    assert right[0, 0, :, 1:].tolist() == x[0, 0, :, :3].tolist()
    up = shift(x, 0, -1)
    assert up[0, 0, 2].tolist() == [0, 0, 0, 0]
    assert up[0, 0, :2].tolist() == x[0, 0, 1:].tolist()


def test_sure_boxes_keep_the_first_reading_and_unsure_ones_average_their_views(
    model: Classifier,
) -> None:
    batch = _boxes()
    first = model._run(batch)
    second = model.probs(batch)
    sure = first.max(axis=1) >= SECOND_LOOK_BELOW
    unsure = ~sure
    assert sure.any() and unsure.any()
    assert np.array_equal(second[sure], first[sure])
    views = [first[unsure]] + [
        model._run(shift(batch[unsure], dx, dy)) for dx, dy in SECOND_LOOK_SHIFTS
    ]
    mean = np.log(np.maximum(np.stack(views), 1e-30)).mean(axis=0)
    expected = np.exp(mean) / np.exp(mean).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(second[unsure], expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(second.sum(axis=1), 1.0, rtol=1e-5)


def test_without_unsure_boxes_nothing_is_read_twice(
    model: Classifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    class Counting:
        def run(self, names: object, feeds: dict[str, np.ndarray]) -> object:
            calls.append(len(feeds[model.input_name]))
            return model.session.run(names, feeds)

    counted = dataclasses.replace(model, session=Counting())
    counted.probs(_boxes())
    assert calls == [6, 4 * int((model._run(_boxes()).max(axis=1) < SECOND_LOOK_BELOW).sum())]
    calls.clear()
    monkeypatch.setattr(classifier_module, "SECOND_LOOK_BELOW", 0.0)
    counted.probs(_boxes())
    assert calls == [6]


def test_the_committed_model_is_loaded_once_per_process() -> None:
    # A worker reads page after page: loading the ONNX file for each would cost more than
    # reading the page.
    assert default_classifier() is default_classifier()
