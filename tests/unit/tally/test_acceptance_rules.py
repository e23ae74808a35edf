"""Pure parts of acceptance: which scopes a TPS rolls up to, anomalies, the cited changes."""

from __future__ import annotations

from shared.acceptance import (
    SHARDS,
    anomalies_of,
    changes_from,
    dapil_of,
    form_of,
    region_chain,
    scopes_of,
)

TPS = "1708042001003"


def test_region_chain_runs_from_the_nation_to_the_village() -> None:
    assert region_chain(TPS) == ["00", "17", "17.08", "17.08.04", "17.08.04.2001"]


def test_busy_scopes_are_sharded_and_dapil_is_added_for_party_contests() -> None:
    ppwp = scopes_of("PPWP", TPS)
    assert [s.code for s in ppwp] == region_chain(TPS)
    assert {s.shard for s in ppwp if s.level <= 2} == {int(TPS) % SHARDS}
    assert {s.shard for s in ppwp if s.level > 2} == {0}
    dpr = scopes_of("DPR", TPS)
    assert dpr[-1].code == "DPR-17-1" and dpr[-1].level == 9
    assert dapil_of("PPWP", TPS) is None
    assert dapil_of("DPRD_KABKOTA", TPS) == "DPRD_KABKOTA-1708-2"


def test_one_form_per_dapil_serves_every_tps_in_it() -> None:
    assert form_of("DPR", TPS) is form_of("DPR", "1708012001001")
    assert form_of("DPRD_KABKOTA", TPS) is not form_of("DPRD_KABKOTA", "1708012001001")
    assert form_of("DPR", TPS).keys == form_of("DPR", "1708012001001").keys


def test_anomalies_name_the_broken_rule_and_a_turnout_above_dpt() -> None:
    values = {"100025": 562, "100026": 20, "100027": 10, "suara_sah": 92,
              "suara_tidak_sah": 0, "suara_total": 92, "pengguna_total_j": 250}  # fmt: skip
    found = anomalies_of("PPWP", TPS, values, dpt=200)
    kinds = {(a["kind"], a["rule"]) for a in found}
    assert ("rule", "R3") in kinds  # 562 + 20 + 10 != 92
    assert ("rule", "R6") in kinds  # 562 above the ballot supply
    assert ("turnout_above_dpt", None) in kinds
    assert all(a["message_id"] and a["message_en"] for a in found)
    consistent = {"100025": 62, "100026": 20, "100027": 10, "suara_sah": 92,
                  "suara_tidak_sah": 0, "suara_total": 92}  # fmt: skip
    assert anomalies_of("PPWP", TPS, consistent, dpt=200) == []


def test_changes_cite_old_and_new_values_only_when_something_is_replaced() -> None:
    assert changes_from({}, {"100025": 1}) == {}
    assert changes_from({"100025": 562, "100026": 3}, {"100025": 62, "100026": 3}) == {
        "100025": [562, 62]
    }
