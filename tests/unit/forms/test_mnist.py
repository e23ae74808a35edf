"""The training and evaluation digit sets never overlap."""

from __future__ import annotations

import hashlib

import numpy as np

from shared.forms.mnist import digit_samples, fetch, is_eval


def test_sides_never_overlap() -> None:
    train, train_labels = digit_samples("train")
    ev, ev_labels = digit_samples("eval")
    assert len(train) + len(ev) == 10_000
    assert 0.15 < len(ev) / 10_000 < 0.25
    # No image appears on both sides, by content (MNIST holds no exact duplicates).
    seen = {hashlib.sha1(im.tobytes()).digest() for im in train}
    assert not any(hashlib.sha1(im.tobytes()).digest() in seen for im in ev)
    for labels in (train_labels, ev_labels):
        assert set(np.unique(labels).tolist()) == set(range(10))


def test_split_rule_is_fixed() -> None:
    # The documented rule, pinned: changing it would leak evaluation digits into training.
    assert [is_eval(0, i) for i in range(8)] == [is_eval(0, i) for i in range(8)]
    assert sum(is_eval(d, i) for d in range(10) for i in range(1000)) in range(1800, 2300)


def test_fetch_is_idempotent() -> None:
    path = fetch()
    before = path.stat().st_mtime_ns
    assert fetch() == path and path.stat().st_mtime_ns == before
    images, labels = digit_samples("eval")
    assert images.dtype == np.uint8 and images.shape[1:] == (28, 28)
    assert labels.dtype == np.uint8
