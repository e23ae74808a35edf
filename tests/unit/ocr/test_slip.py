"""The officer's slip: how likely the written form broke a rule that the reading says holds."""

from __future__ import annotations

import math

import pytest

from services.ocr.reader.decode import decode
from services.ocr.reader.numbers import FieldCandidates
from services.ocr.reader.slip import SLIP_PRIOR, SLIP_SPAN, slip_chance, slip_odds
from shared.consistency import Relation

# votes l + p = j, and j <= the voters
SUM = Relation("R1", ("j",), ("l", "p"), "==")
CAP = Relation("R5", ("j",), ("voters",), "<=")


def sure(key: str, value: int) -> FieldCandidates:
    return FieldCandidates(key, (value,), (1.0,), 0.0)


def log_prob(fields: dict[str, FieldCandidates], values: dict[str, int]) -> float:
    return sum(math.log(fields[k].prob(v)) for k, v in values.items())


def test_slip_sizes_are_log_uniform_over_either_sign_and_sum_to_one() -> None:
    total = 2 * sum(slip_chance(e) for e in range(1, SLIP_SPAN + 1))
    assert math.isclose(total, 1.0)
    assert math.isclose(slip_chance(1), 10 * slip_chance(10))
    assert slip_chance(-7) == slip_chance(7)
    assert slip_chance(1) == pytest.approx(0.0796, abs=1e-4)


def test_a_page_read_as_written_carries_no_slip_odds() -> None:
    fields = {
        "l": sure("l", 20),
        "p": sure("p", 30),
        "j": sure("j", 50),
        "voters": sure("voters", 90),
    }
    values = {"l": 20, "p": 30, "j": 50, "voters": 90}
    assert slip_odds(fields, [SUM, CAP], values, 0.0) == 0.0


def test_a_box_whose_other_reading_breaks_the_sum_is_charged_by_how_far() -> None:
    # p read 30 at 0.8; 31 (one off) or 90 (sixty off) at 0.2 would put the sum out.
    values = {"l": 20, "p": 30, "j": 50}
    near = {
        "l": sure("l", 20),
        "p": FieldCandidates("p", (30, 31), (0.8, 0.2), 0.0),
        "j": sure("j", 50),
    }
    far = {**near, "p": FieldCandidates("p", (30, 90), (0.8, 0.2), 0.0)}
    odds_near = slip_odds(near, [SUM], values, log_prob(near, values))
    odds_far = slip_odds(far, [SUM], values, log_prob(far, values))
    assert odds_near == pytest.approx(SLIP_PRIOR * slip_chance(1) * 0.25)
    assert odds_far == pytest.approx(SLIP_PRIOR * slip_chance(60) * 0.25)


def test_an_overruled_box_is_weighed_once_as_the_boxes_own_reading() -> None:
    # l read 71 (0.9) but the sum says 11 (0.1): the boxes' reading is out by 60. One slip
    # could have written it from two consistent forms: l = 11 written 71, or j = 76 written 16
    # (p = 5 written for -55 is no count), each one of the 3 numbers the rule checks.
    fields = {
        "l": FieldCandidates("l", (71, 11), (0.9, 0.1), 0.0),
        "p": sure("p", 5),
        "j": sure("j", 16),
    }
    values = {"l": 11, "p": 5, "j": 16}
    odds = slip_odds(fields, [SUM], values, log_prob(fields, values))
    assert odds == pytest.approx(SLIP_PRIOR * 2 / 3 * slip_chance(60) * 9.0)


def test_a_number_in_two_rules_is_weighed_by_the_one_change_that_balances_both() -> None:
    # j read 61 (0.7), chosen 50: out by 11 in the sum and by 1 against the voters (60). Only a
    # slip in j, off by 11, explains both; l, p or the voters alone cannot.
    fields = {
        "l": sure("l", 20),
        "p": sure("p", 30),
        "j": FieldCandidates("j", (61, 50), (0.7, 0.3), 0.0),
        "voters": sure("voters", 60),
    }
    values = {"l": 20, "p": 30, "j": 50, "voters": 60}
    odds = slip_odds(fields, [SUM, CAP], values, log_prob(fields, values))
    assert odds == pytest.approx(SLIP_PRIOR * slip_chance(11) * (0.7 / 0.3) / 4)


def test_a_slip_of_one_keeps_a_page_from_being_sure_where_a_far_misread_does_not() -> None:
    # The same box doubt; only the distance the other reading puts the page out differs.
    base = {"l": sure("l", 20), "j": sure("j", 50)}
    near = decode({**base, "p": FieldCandidates("p", (30, 31), (0.7, 0.3), 0.0)}, [SUM])
    far = decode({**base, "p": FieldCandidates("p", (30, 80), (0.7, 0.3), 0.0)}, [SUM])
    assert near.values == far.values == {"l": 20, "p": 30, "j": 50}
    assert near.confidence < 0.999 < far.confidence
