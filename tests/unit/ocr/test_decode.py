"""The form decoder: never a combination the arithmetic contradicts; the best one when found."""

from __future__ import annotations

import itertools
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from services.ocr.reader.decode import RUNNER_UP_WINDOW, decode
from services.ocr.reader.numbers import FieldCandidates
from shared.consistency import Relation

KEYS = ("a_l", "a_p", "a_j", "b_l", "b_p", "b_j", "tot_l", "tot_p", "tot_j", "cap")
RELATIONS = (
    Relation("R1", ("a_j",), ("a_l", "a_p"), "=="),
    Relation("R1", ("b_j",), ("b_l", "b_p"), "=="),
    Relation("R1", ("tot_j",), ("tot_l", "tot_p"), "=="),
    Relation("R2", ("tot_j",), ("a_j", "b_j"), "=="),
    Relation("R5", ("tot_j",), ("cap",), "<="),
)


@st.composite
def candidate_lists(draw: st.DrawFn, keys: tuple[str, ...]) -> dict[str, FieldCandidates]:
    out = {}
    for k in keys:
        values = draw(st.lists(st.integers(0, 30), min_size=1, max_size=3, unique=True))
        weights = draw(st.lists(st.floats(0.01, 1.0), min_size=len(values), max_size=len(values)))
        total = sum(weights) * draw(st.floats(1.0, 1.5))  # some mass left for "other"
        ranked = sorted(
            zip(values, (w / total for w in weights), strict=True), key=lambda vp: -vp[1]
        )
        out[k] = FieldCandidates(
            k,
            tuple(v for v, _ in ranked),
            tuple(p for _, p in ranked),
            1.0 - sum(p for _, p in ranked),
        )
    return out


def _holds_all(values: dict[str, int]) -> bool:
    return all(r.holds(values) for r in RELATIONS)


@settings(max_examples=300, deadline=None)
@given(candidate_lists(KEYS))
def test_decoder_never_returns_an_inconsistent_combination(
    fields: dict[str, FieldCandidates],
) -> None:
    result = decode(fields, RELATIONS)
    if result.values is None:
        assert result.confidence == 0.0
        return
    assert _holds_all(result.values)
    for k, v in result.values.items():
        assert v in fields[k].values  # never a number no box spelled


@settings(max_examples=150, deadline=None)
@given(candidate_lists((*KEYS[:6], "cap")))
def test_decoder_finds_the_most_probable_consistent_combination(
    fields: dict[str, FieldCandidates],
) -> None:
    rels = [r for r in RELATIONS if all(k in fields for k in r.keys)]
    keys = list(fields)
    best = -math.inf
    for combo in itertools.product(*(range(len(fields[k].values)) for k in keys)):
        values = {k: fields[k].values[i] for k, i in zip(keys, combo, strict=True)}
        if all(r.holds(values) for r in rels):
            score = sum(math.log(fields[k].probs[i]) for k, i in zip(keys, combo, strict=True))
            best = max(best, score)
    result = decode(fields, rels)
    if best == -math.inf:
        assert result.values is None
    else:
        assert result.values is not None
        assert math.isclose(result.log_prob, best, rel_tol=1e-9, abs_tol=1e-9)


def test_an_arithmetic_slip_is_corrected_only_by_a_candidate_the_boxes_allow() -> None:
    # a_l was read 7 (0.9) but the form says 1 (0.1): 1 + 5 = 6 is the only consistent reading.
    fields = {
        "a_l": FieldCandidates("a_l", (7, 1), (0.9, 0.1), 0.0),
        "a_p": FieldCandidates("a_p", (5,), (0.999,), 0.001),
        "a_j": FieldCandidates("a_j", (6,), (0.999,), 0.001),
    }
    result = decode(fields, RELATIONS[:1])
    assert result.values == {"a_l": 1, "a_p": 5, "a_j": 6}
    # Had the boxes said 1 in the first place, the reading would be more certain.
    direct = decode(
        {**fields, "a_l": FieldCandidates("a_l", (1, 7), (0.9, 0.1), 0.0)}, RELATIONS[:1]
    )
    assert direct.values == result.values
    assert result.confidence < direct.confidence


def test_no_consistent_combination_is_reported_not_guessed() -> None:
    fields = {
        "a_l": FieldCandidates("a_l", (7,), (0.99,), 0.01),
        "a_p": FieldCandidates("a_p", (5,), (0.99,), 0.01),
        "a_j": FieldCandidates("a_j", (6,), (0.99,), 0.01),
    }
    result = decode(fields, RELATIONS[:1])
    assert result.values is None


def test_the_search_stops_at_its_node_limit() -> None:
    fields = {k: FieldCandidates(k, (1, 2, 3), (0.5, 0.3, 0.2), 0.0) for k in ("a_l", "a_p", "a_j")}
    result = decode(fields, RELATIONS[:1], max_nodes=2)
    assert not result.complete


def test_an_officers_slip_is_not_silently_corrected() -> None:
    # The boxes clearly say 5 + 3 = 9 (the officer's slip); 5 + 3 = 8 or 6 + 3 = 9 would be
    # consistent but nobody wrote them. The decoder may propose one; it must not be confident.
    fields = {
        "a_l": FieldCandidates("a_l", (5, 6), (0.99, 0.005), 0.005),
        "a_p": FieldCandidates("a_p", (3,), (0.995,), 0.005),
        "a_j": FieldCandidates("a_j", (9, 8), (0.99, 0.005), 0.005),
    }
    result = decode(fields, RELATIONS[:1])
    assert result.values is not None
    assert result.confidence < 0.5


def test_a_sure_page_with_a_long_sum_is_searched_to_the_end() -> None:
    # 22 candidates' votes, each read at 0.9999, whose alternatives all add votes: no other
    # consistent reading exists but one that no box supports. The search used to hunt for a
    # runner-up among 6**22 combinations, stop at MAX_NODES and send the sure page to a person.
    keys = tuple(f"calon_{i:02d}" for i in range(22))
    fields = {
        k: FieldCandidates(k, (10 + i, 16 + i, 40 + i, 11 + i), (0.9999, 4e-5, 3e-5, 2e-5), 1e-6)
        for i, k in enumerate(keys)
    }
    total = sum(10 + i for i in range(22))
    fields["suara_sah"] = FieldCandidates("suara_sah", (total,), (0.9999,), 1e-4)
    result = decode(fields, [Relation("R3", keys, ("suara_sah",), "==")])
    assert result.complete
    assert result.values == {k: fields[k].values[0] for k in fields}
    assert result.confidence > 0.999
    # A runner-up outside the window is not taken as impossible: its odds are bounded.
    assert result.runner_up_log_prob is not None
    assert result.runner_up_log_prob <= result.log_prob - RUNNER_UP_WINDOW


def test_a_runner_up_inside_the_window_is_found_exactly() -> None:
    fields = {
        "a_l": FieldCandidates("a_l", (4, 5), (0.99, 0.01), 0.0),
        "a_p": FieldCandidates("a_p", (3, 2), (0.99, 0.01), 0.0),
        "a_j": FieldCandidates("a_j", (7,), (1.0,), 0.0),
    }
    result = decode(fields, RELATIONS[:1])
    assert result.values == {"a_l": 4, "a_p": 3, "a_j": 7}
    assert result.runner_up_log_prob is not None
    assert math.isclose(result.runner_up_log_prob, math.log(0.01 * 0.01), rel_tol=1e-9)
