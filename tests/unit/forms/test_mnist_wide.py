"""The wide training set holds no evaluation-side digit, and the synthetic crops draw on it."""

from __future__ import annotations

import numpy as np
import pytest

from shared.forms import handwriting
from shared.forms.mnist import digit_samples
from shared.forms.mnist_wide import fetch, training_digits


@pytest.fixture(scope="module")
def wide() -> tuple[np.ndarray, np.ndarray]:
    fetch()
    return training_digits()


def test_no_evaluation_digit_enters_training(wide: tuple[np.ndarray, np.ndarray]) -> None:
    images, labels = wide
    eval_images, _ = digit_samples("eval")
    held_back = {im.tobytes() for im in eval_images}
    assert not any(im.tobytes() in held_back for im in images)
    # Nor a near copy: no digit of an even sample of ~3,000 of the wide set (all 68,000 against
    # all 2,000 would cost the suite seconds) is within a few grey levels of one.
    sample = images[:: max(1, len(images) // 3000)].reshape(-1, 784).astype(np.float32)
    ev = eval_images.reshape(-1, 784).astype(np.float32)
    nearest = ((sample**2).sum(1)[:, None] + (ev**2).sum(1)[None] - 2 * sample @ ev.T).min(1)
    assert float(np.sqrt(max(float(nearest.min()), 0.0))) > 50.0
    assert images.dtype == np.uint8 and images.shape[1:] == (28, 28)
    assert set(np.unique(labels).tolist()) == set(range(10))


def test_wide_set_keeps_the_training_side_and_adds_the_rest_of_mnist(
    wide: tuple[np.ndarray, np.ndarray],
) -> None:
    images, _ = wide
    train_images, _ = digit_samples("train")
    ours = {im.tobytes() for im in images}
    assert all(im.tobytes() in ours for im in train_images)
    # MNIST's 70,000 less the 10,000 of the split package, plus its ~8,000 training side.
    assert len(images) == 60_000 + len(train_images)
    assert len(ours) == len(images)  # no digit twice


def test_fetch_is_idempotent() -> None:
    path = fetch()
    before = path.stat().st_mtime_ns
    assert fetch() == path and path.stat().st_mtime_ns == before


def test_train_wide_source_draws_beyond_the_training_side(
    wide: tuple[np.ndarray, np.ndarray],
) -> None:
    images, labels = wide
    train_images, train_labels = digit_samples("train")
    wide_sevens = {handwriting.tight_crop(im).tobytes() for im in images[labels == 7]}
    split_sevens = {handwriting.tight_crop(im).tobytes() for im in train_images[train_labels == 7]}
    rng = np.random.default_rng(3)
    glyphs = [
        handwriting.digit_glyph(rng, 7, "train_wide", font_share=0.0)[0].tobytes()
        for _ in range(40)
    ]
    assert all(g in wide_sevens for g in glyphs)
    # ~88% of the wide set lies outside the split package: 40 draws all inside it would mean
    # the source is still the ~8,000 training-side digits.
    assert sum(g not in split_sevens for g in glyphs) >= 20
