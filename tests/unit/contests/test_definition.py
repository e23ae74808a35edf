"""Contest definitions: complete, deterministic, and paginated without collisions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.contests import PARTIES, PASLON, Contest, InvalidTpsCode, dapil_code, definition
from shared.contests.definition import COLUMN_ROWS, COLUMNS
from shared.forms.identity import MAX_PAGES

KEPAHIANG_TPS = "1708042001001"
tps_codes = st.from_regex(r"\A[1-9][0-9]{12}\Z")


def test_ppwp_has_sirekap_keys() -> None:
    d = definition(Contest.PPWP, KEPAHIANG_TPS)
    assert [p.id for p in PASLON] == ["100025", "100026", "100027"]
    for key in ("100025", "100026", "100027", "suara_sah", "suara_tidak_sah", "suara_total"):
        assert key in d.keys
    for prefix in (
        "pemilih_dpt",
        "pemilih_dptb",
        "pemilih_dpk",
        "pengguna_dpt",
        "pengguna_dptb",
        "pengguna_non_dpt",
        "pengguna_total",
    ):
        for s in "lpj":
            assert f"{prefix}_{s}" in d.keys
    for key in (
        "surat_suara_diterima",
        "surat_suara_dikembalikan",
        "surat_suara_tidak_digunakan",
        "surat_suara_digunakan",
    ):
        assert key in d.keys
    assert d.vote_keys == ("100025", "100026", "100027")


def test_parties_are_the_2024_ballot() -> None:
    assert len(PARTIES) == 18
    assert [p.number for p in PARTIES] == [*range(1, 18), 24]
    d = definition(Contest.DPR, KEPAHIANG_TPS)
    assert len(d.parties) == 18
    for pl in d.parties:
        assert 3 <= len(pl.candidates) <= 6
        assert pl.votes_key in d.keys and pl.total_key in d.keys


def test_dapil_from_region_codes() -> None:
    assert dapil_code(Contest.DPR, KEPAHIANG_TPS) == "DPR-17-1"
    assert dapil_code(Contest.DPD, KEPAHIANG_TPS) == "DPD-17"
    assert dapil_code(Contest.DPRD_PROV, KEPAHIANG_TPS) == "DPRD_PROV-17-4"
    assert dapil_code(Contest.DPRD_KABKOTA, KEPAHIANG_TPS) == "DPRD_KABKOTA-1708-2"
    # Two TPS of one village share every dapil, so they share candidate lists.
    for c in Contest:
        assert (
            definition(c, "1708042001001").candidates == definition(c, "1708042001007").candidates
        )


def test_invalid_tps_code() -> None:
    with pytest.raises(InvalidTpsCode):
        definition(Contest.PPWP, "17080420")


def test_candidate_names_are_stable() -> None:
    # Pinned: every service must derive the same list from the dapil alone.
    d = definition(Contest.DPR, KEPAHIANG_TPS)
    assert d.parties[0].candidates[0].name == "Rahmat Gunawan"
    assert len(definition(Contest.DPD, KEPAHIANG_TPS).candidates) in range(10, 21)


@settings(max_examples=60, deadline=None)
@given(contest=st.sampled_from(list(Contest)), tps=tps_codes)
def test_pagination_is_sound(contest: Contest, tps: str) -> None:
    d = definition(contest, tps)
    assert len(set(d.keys)) == len(d.keys)
    assert 2 <= d.pages <= MAX_PAGES
    slots: set[tuple[int, int, int]] = set()
    for s in d.sections:
        slots.add((s.page, s.column, s.row))
    for f in d.fields:
        assert 1 <= f.page <= d.pages and 0 <= f.column < COLUMNS and 0 <= f.row < COLUMN_ROWS
        assert (f.page, f.column, f.row) not in slots, f.key
        slots.add((f.page, f.column, f.row))
        assert f.label_id and f.label_en and f.boxes == 3
    # Page 1 is the administrasi page of every contest.
    assert {f.kind for f in d.page_fields(1)} == {"voters", "ballots"}
    assert definition(contest, tps) is d  # cached
