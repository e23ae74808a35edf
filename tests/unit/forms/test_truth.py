"""Generated ground truth obeys every rule, or breaks exactly the one asked for."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.consistency import RULES, bounds, check
from shared.contests import Contest, definition
from shared.forms.truth import default_dpt, make_truth

contests = st.sampled_from(list(Contest))
seeds = st.integers(0, 2**31)
tps_codes = st.from_regex(r"\A17080[1-8]20[0-9]{2}0[0-9]{2}\Z")


@settings(max_examples=150, deadline=None)
@given(contest=contests, tps=tps_codes, seed=seeds, dpt=st.one_of(st.none(), st.integers(1, 300)))
def test_truth_is_consistent(contest: Contest, tps: str, seed: int, dpt: int | None) -> None:
    t = make_truth(contest, tps, seed, dpt=dpt)
    d = definition(contest, tps)
    assert check(t.values, d, t.dpt) == []
    assert t.broken_rules == () and t.inconsistent_rule is None
    assert list(t.values) == list(d.keys)  # every field, in print order
    top = bounds(d, t.dpt)
    assert all(0 <= v <= top[k] for k, v in t.values.items())
    assert t.values["pemilih_dpt_j"] == t.dpt <= 300


@settings(max_examples=150, deadline=None)
@given(contest=contests, seed=seeds, rule=st.sampled_from(sorted(RULES)))
def test_inconsistent_truth_breaks_the_rule(contest: Contest, seed: int, rule: str) -> None:
    t = make_truth(contest, "1708042001001", seed, inconsistent=rule)
    assert t.inconsistent_rule == rule
    assert rule in t.broken_rules
    assert rule in {v.rule for v in check(t.values, definition(contest, t.tps_code), t.dpt)}


@given(seed=seeds)
def test_truth_is_deterministic(seed: int) -> None:
    assert make_truth("DPD", "1708042001001", seed) == make_truth("DPD", "1708042001001", seed)
    assert make_truth("PPWP", "1708042001001", seed, inconsistent=True).inconsistent_rule in RULES


def test_default_dpt_is_plausible() -> None:
    assert all(120 <= default_dpt(f"1708042001{n:03d}") <= 300 for n in range(1, 200))
