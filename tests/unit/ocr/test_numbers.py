"""How box symbols spell numbers, and how box probabilities become field candidates."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from services.ocr.reader.numbers import field_candidates
from services.ocr.reader.symbols import BLANK, INVALID, X, parse, parse_table


@pytest.mark.parametrize(
    ("symbols", "value"),
    [
        ((X, 6, 2), 62),
        ((X, X, 5), 5),
        ((X, X, 0), 0),
        ((BLANK, 6, 2), 62),
        ((BLANK, BLANK, 0), 0),
        ((0, 6, 2), 62),
        ((2, 4, 5), 245),
        ((6, X, 2), INVALID),  # an X after a digit
        ((X, 6, X), INVALID),
        ((X, 6, BLANK), INVALID),  # a blank units box
        ((X, X, X), INVALID),
        ((BLANK, BLANK, BLANK), INVALID),
    ],
)
def test_parse_follows_the_x_convention(symbols: tuple[int, ...], value: int) -> None:
    assert parse(symbols) == value


def test_parse_table_matches_parse() -> None:
    table = parse_table(3)
    assert table[(X * 12 + 6) * 12 + 2] == 62
    assert (table == INVALID).sum() > 0


def _onehot(*classes: int, p: float = 0.97) -> npt.NDArray[np.float32]:
    rows = np.full((len(classes), 12), (1 - p) / 11, dtype=np.float32)
    for i, c in enumerate(classes):
        rows[i, c] = p
    return rows


def test_an_x_is_never_read_as_a_digit_of_the_number() -> None:
    # The 2024 failure: X 6 2 published as 562 or 862.
    probs = _onehot(X, 6, 2)
    probs[0, 5] = probs[0, 8] = 0.2  # the X looks a bit like a 5 and an 8
    probs[0] /= probs[0].sum()
    cands = field_candidates("f", probs, max_value=306)
    assert cands.best == 62
    assert cands.probs[0] > 0.5


def test_rule_six_bounds_the_candidates() -> None:
    cands = field_candidates("f", _onehot(8, 6, 2), max_value=306)
    assert all(v <= 306 for v in cands.values)
    assert 862 not in cands.values


def test_probabilities_and_other_mass_sum_to_one() -> None:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(12), size=3).astype(np.float32)
    cands = field_candidates("f", probs)
    assert abs(sum(cands.probs) + cands.other - 1.0) < 1e-5
