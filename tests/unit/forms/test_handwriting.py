"""Box symbols follow the X convention; the pen draws X marks and never pure black."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.forms.handwriting import (
    HANDWRITING_FONTS,
    digit_glyph,
    draw_x,
    hand_image,
    pick_pen,
    symbol_ink,
    symbols_for,
)


def test_symbols_follow_the_x_convention() -> None:
    assert symbols_for(62) == ["X", "6", "2"]
    assert symbols_for(5) == ["X", "X", "5"]
    assert symbols_for(0) == ["X", "X", "0"]
    assert symbols_for(300) == ["3", "0", "0"]
    assert symbols_for(7, blank_leading=True) == ["", "", "7"]
    with pytest.raises(ValueError):
        symbols_for(1000)


@given(seed=st.integers(0, 2**32 - 1), h=st.integers(24, 120), aspect=st.floats(0.6, 1.1))
def test_x_is_two_strokes(seed: int, h: int, aspect: float) -> None:
    w = round(h * aspect)  # boxes are 8 x 10 mm
    mask = draw_x(np.random.default_rng(seed), (h, w))
    assert mask.shape == (h, w) and mask.dtype == np.float32
    assert float(mask.min()) >= 0.0 and float(mask.max()) <= 1.0
    # Ink on both diagonals: each quadrant of the box holds part of a stroke.
    qh, qw = h // 2, w // 2
    for quad in (mask[:qh, :qw], mask[:qh, qw:], mask[qh:, :qw], mask[qh:, qw:]):
        assert quad.max() > 0.3


def test_ink_is_ballpoint_not_pure_black() -> None:
    for seed in range(50):
        pen = pick_pen(np.random.default_rng(seed))
        assert max(pen.colour) > 30 and pen.density < 1.0


def test_fonts_are_installed_and_digits_render() -> None:
    assert all(p.exists() for p in HANDWRITING_FONTS)
    rng = np.random.default_rng(3)
    for d in "0123456789":
        mask, hand = symbol_ink(rng, d, 80, 64, "train", font_share=1.0)
        assert mask is not None and mask.max() > 0.5 and hand.startswith(f"font:{d}:")
    assert symbol_ink(rng, "", 80, 64, "eval", 0.0) == (None, "")


def test_a_hand_names_the_glyph_that_was_drawn() -> None:
    rng = np.random.default_rng(11)
    hands = set()
    for i in range(60):
        glyph, hand = digit_glyph(rng, i % 10, "eval", font_share=0.3)
        source, digit, _ = hand.split(":")
        assert source in ("eval", "font") and digit == str(i % 10)
        assert np.array_equal(hand_image(hand), glyph)
        hands.add(source)
    assert hands == {"eval", "font"}
