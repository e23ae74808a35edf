"""The photo checks' arithmetic: the quick median must be np.median, to the half level."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from services.ocr.reader.photo import _median


@settings(max_examples=300, deadline=None)
@given(
    arrays(
        np.uint8,
        st.tuples(st.integers(1, 40), st.integers(1, 40)),
        elements=st.integers(0, 255),
    )
)
def test_the_histogram_median_is_numpys(image: np.ndarray) -> None:
    assert _median(image) == float(np.median(image))


def test_an_even_count_splits_the_middle_pair() -> None:
    assert _median(np.array([[10, 13]], np.uint8)) == 11.5
    assert _median(np.array([[0, 255, 255, 0]], np.uint8)) == 127.5
