"""The seven rules, checked on a real 2024 TPS, on misreadings, and as linear relations."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.consistency import RULES, bounds, broken_rules, check, relations, supply
from shared.contests import Contest, definition
from shared.forms.truth import make_truth

TPS = "1701082001002"
# The public Sirekap JSON of a real 2024 TPS (domain.md): administrasi + chart.
REAL = {
    "suara_sah": 140,
    "suara_total": 140,
    "suara_tidak_sah": 0,
    "pemilih_dpt_j": 174,
    "pemilih_dpt_l": 88,
    "pemilih_dpt_p": 86,
    "pengguna_dpt_j": 137,
    "pengguna_dpt_l": 63,
    "pengguna_dpt_p": 74,
    "pengguna_dptb_j": 3,
    "pengguna_dptb_l": 2,
    "pengguna_dptb_p": 1,
    "pengguna_non_dpt_j": 0,
    "pengguna_non_dpt_l": 0,
    "pengguna_non_dpt_p": 0,
    "pengguna_total_j": 140,
    "pengguna_total_l": 65,
    "pengguna_total_p": 75,
    "100025": 44,
    "100026": 78,
    "100027": 18,
}


def test_real_tps_is_consistent() -> None:
    assert check(REAL, definition(Contest.PPWP, TPS), dpt=174) == []


def test_x_read_as_5_is_caught() -> None:
    # 2024's failure: 62 written "X 6 2" published as 562.
    misread = dict(REAL, **{"100025": 544})
    violations = check(misread, definition(Contest.PPWP, TPS), dpt=174)
    assert {v.rule for v in violations} == {"R3", "R6"}
    for v in violations:
        assert v.message_en.startswith(v.rule) and v.message_id.startswith(v.rule)
    assert any("100025" in v.fields for v in violations)


def test_each_rule_has_both_languages() -> None:
    assert sorted(RULES) == [f"R{i}" for i in range(1, 8)]
    for r in RULES.values():
        assert r.text_en and r.text_id and r.text_en != r.text_id


def test_supply_is_dpt_plus_two_percent_rounded_up() -> None:
    assert supply(300) == 306
    assert supply(174) == 178
    assert supply(100) == 102
    assert supply(None) == 306


def test_relations_cover_the_form() -> None:
    for contest in Contest:
        d = definition(contest, TPS)
        rels = relations(d)
        assert {r.rule for r in rels} == {"R1", "R2", "R3", "R4", "R5", "R7"}
        assert all(k in d.keys for r in rels for k in r.keys)
        assert all(r.op in ("==", "<=") for r in rels)
        assert set(bounds(d, 200).values()) == {204}
    dpr = definition(Contest.DPR, TPS)
    # One party-total relation per party, plus the sum of party totals.
    assert sum(1 for r in relations(dpr) if r.rule == "R3") == 19


def test_partial_values_skip_relations() -> None:
    d = definition(Contest.PPWP, TPS)
    assert check({"pemilih_dpt_l": 10, "pemilih_dpt_p": 5}, d) == []
    assert broken_rules({"pemilih_dpt_l": 10, "pemilih_dpt_p": 5, "pemilih_dpt_j": 14}, d) == {"R1"}
    assert broken_rules({"suara_total": 400}, d) == {"R6"}


def test_every_field_is_in_an_equality() -> None:
    # So no single misread number can slip through: changing any one field breaks a sum.
    for contest in Contest:
        d = definition(contest, TPS)
        in_equalities = {k for r in relations(d) if r.op == "==" for k in r.keys}
        assert in_equalities == set(d.keys)


@settings(max_examples=200, deadline=None)
@given(
    contest=st.sampled_from(list(Contest)),
    seed=st.integers(0, 2**31),
    pick=st.integers(0, 10_000),
    delta=st.integers(-9, 9).filter(bool),
)
def test_any_single_misread_is_caught(contest: Contest, seed: int, pick: int, delta: int) -> None:
    truth = make_truth(contest, TPS, seed)
    d = definition(contest, TPS)
    key = d.keys[pick % len(d.keys)]
    misread = dict(truth.values)
    misread[key] = abs(misread[key] + delta)
    if misread[key] == truth.values[key]:
        return
    assert any(key in v.fields for v in check(misread, d, truth.dpt))
