"""Which keys a contest's chart shows, with their labels: paslon, parties, or DPD candidates.

Candidate keys of party contests (`partai_01_caleg_02`) name a different person in each dapil,
so region charts show party totals; candidates are shown per dapil (`dapil_view`).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.contests import PARTIES, PASLON, Contest
from shared.contests.candidates import caleg, dpd_candidates


@dataclass(frozen=True, slots=True)
class ChartKey:
    key: str
    label: str


SUMMARY_KEYS = ("suara_sah", "suara_tidak_sah", "suara_total", "pengguna_total_j", "_tps")


def chart_keys(contest: str, region_code: str) -> list[ChartKey]:
    c = Contest(contest)
    if c is Contest.PPWP:
        return [ChartKey(p.id, f"{p.number:02d}. {p.names}") for p in PASLON]
    if c is Contest.DPD:
        if region_code == "00":
            return []  # DPD candidates stand per province; there is no national chart
        dapil = f"DPD-{region_code[:2]}"
        return [ChartKey(d.field_key, f"{d.number}. {d.name}") for d in dpd_candidates(dapil)]
    return [ChartKey(f"partai_{p.number:02d}_total", f"{p.number}. {p.short}") for p in PARTIES]


def dapil_candidates(contest: str, dapil: str) -> list[dict[str, object]]:
    """Parties with their candidates (or DPD candidates) of one dapil, for the dapil view."""
    c = Contest(contest)
    if c is Contest.DPD:
        return [
            {"key": d.field_key, "number": d.number, "name": d.name, "party": None}
            for d in dpd_candidates(dapil)
        ]
    if c is Contest.PPWP:
        return [{"key": p.id, "number": p.number, "name": p.names, "party": None} for p in PASLON]
    out: list[dict[str, object]] = []
    for p in PARTIES:
        out.append(
            {
                "key": f"partai_{p.number:02d}_total",
                "number": p.number,
                "name": p.name,
                "party": p.number,
                "party_votes_key": f"partai_{p.number:02d}_suara",
                "candidates": [
                    {"key": cand.field_key, "number": cand.number, "name": cand.name}
                    for cand in caleg(dapil, p.number)
                ],
            }
        )
    return out
