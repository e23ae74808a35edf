"""Ground-truth counts for one TPS and contest: plausible, and consistent unless asked not to be.

``make_truth(contest, tps_code, seed)`` draws voters, turnout, ballots and votes so that every
rule of ``shared.consistency`` holds. ``inconsistent="R4"`` (or ``True`` for a random rule)
applies the smallest edit that breaks that rule, the kind of arithmetic slip the system must
catch, and records every rule the result breaks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from shared.consistency import RULES, broken_rules, supply
from shared.contests import Contest, ContestDefinition, definition
from shared.contests.definition import SEXES
from shared.reference.tps import dpt_for


@dataclass(frozen=True)
class Truth:
    contest: Contest
    tps_code: str
    dpt: int
    seed: int
    values: dict[str, int]
    inconsistent_rule: str | None  # the rule deliberately broken, if any
    broken_rules: tuple[str, ...]  # every rule ``values`` breaks (empty when consistent)


def rng_for(*parts: object) -> np.random.Generator:
    """A generator seeded from any values, stable across processes (unlike ``hash()``)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def default_dpt(tps_code: str) -> int:
    """The TPS's DPT in the reference list (`shared.reference.tps`), 120..300."""
    return dpt_for(tps_code)


def _split(rng: np.random.Generator, total: int, share: float = 0.5) -> tuple[int, int]:
    men = int(rng.binomial(total, share))
    return men, total - men


def _voters(rng: np.random.Generator, dpt: int, v: dict[str, int]) -> None:
    top = supply(dpt)
    turnout = rng.uniform(0.6, 0.93)
    dpt_l, dpt_p = _split(rng, dpt, rng.uniform(0.46, 0.54))
    used_l, used_p = int(rng.binomial(dpt_l, turnout)), int(rng.binomial(dpt_p, turnout))
    room = max(0, top - used_l - used_p - 4)  # keep ballots for the damaged ones
    dptb = min(int(rng.integers(0, 7)), room)
    dpk = min(int(rng.integers(0, 4)), room - dptb)
    rows = {
        "pemilih_dpt": (dpt_l, dpt_p),
        "pemilih_dptb": _split(rng, dptb),
        "pemilih_dpk": _split(rng, dpk),
        "pengguna_dpt": (used_l, used_p),
    }
    # Transferred (DPTb) voters registered to vote here and DPK voters are, by definition,
    # people who came: nearly all of them vote.
    rows["pengguna_dptb"] = tuple(int(rng.binomial(n, 0.9)) for n in rows["pemilih_dptb"])  # type: ignore[assignment]
    rows["pengguna_non_dpt"] = rows["pemilih_dpk"]
    rows["pengguna_total"] = tuple(  # type: ignore[assignment]
        rows["pengguna_dpt"][i] + rows["pengguna_dptb"][i] + rows["pengguna_non_dpt"][i]
        for i in range(2)
    )
    for prefix, (lv, pv) in rows.items():
        v[f"{prefix}_l"], v[f"{prefix}_p"], v[f"{prefix}_j"] = lv, pv, lv + pv
    used = v["pengguna_total_j"]
    damaged = int(rng.integers(0, min(4, top - used) + 1))
    v["surat_suara_diterima"] = top
    v["surat_suara_digunakan"] = used
    v["surat_suara_dikembalikan"] = damaged
    v["surat_suara_tidak_digunakan"] = top - used - damaged


def _votes(rng: np.random.Generator, defn: ContestDefinition, v: dict[str, int]) -> None:
    used = v["pengguna_total_j"]
    # A ballot occasionally goes home in a pocket: total votes may fall short of the voters.
    total = used - int(rng.random() < 0.05 and used > 0)
    invalid = int(rng.binomial(total, rng.uniform(0.005, 0.04)))
    valid = total - invalid
    v["suara_total"], v["suara_tidak_sah"], v["suara_sah"] = total, invalid, valid
    if defn.parties:
        shares = rng.dirichlet(np.full(len(defn.parties), 0.8))
        totals = rng.multinomial(valid, shares)
        for pl, n in zip(defn.parties, totals, strict=True):
            keys = [pl.votes_key, *(c.field_key for c in pl.candidates)]
            alpha = np.array([2.0] + [0.7] * len(pl.candidates))
            for key, k in zip(keys, rng.multinomial(int(n), rng.dirichlet(alpha)), strict=True):
                v[key] = int(k)
            v[pl.total_key] = int(n)
    else:
        if defn.contest is Contest.PPWP:
            alpha = np.array([4.0, 6.0, 3.0])  # roughly the 2024 national shares
        else:
            alpha = np.full(len(defn.candidates), 0.8)
        counts = rng.multinomial(valid, rng.dirichlet(alpha))
        for c, k in zip(defn.candidates, counts, strict=True):
            v[c.field_key] = int(k)


def _bump(v: dict[str, int], key: str, k: int) -> None:
    v[key] = min(999, max(0, v[key] + k))


def _break(rng: np.random.Generator, defn: ContestDefinition, v: dict[str, int], rule: str) -> None:
    """The smallest edit that breaks ``rule`` (and, where possible, no other rule)."""
    k = int(rng.integers(1, 10))
    s = str(rng.choice([s for s, _, _ in SEXES[:2]]))
    vote_key = str(rng.choice([c.field_key for c in defn.candidates]))
    if rule == "R1":
        _bump(v, f"{rng.choice(['pemilih_dpt', 'pemilih_dptb', 'pemilih_dpk'])}_{s}", k)
    elif rule == "R2":
        _bump(v, f"pengguna_dpt_{s}", k)
        _bump(v, "pengguna_dpt_j", k)
    elif rule == "R3":
        _bump(v, vote_key, k)
    elif rule == "R4":
        _bump(v, "suara_tidak_sah", k)
    elif rule == "R5":
        k += max(0, v["pengguna_total_j"] - v["suara_total"])
        for key in ("suara_total", "suara_sah", vote_key):
            _bump(v, key, k)
        for pl in defn.parties:
            if vote_key in (pl.votes_key, *(c.field_key for c in pl.candidates)):
                _bump(v, pl.total_key, k)
    elif rule == "R6":
        _bump(v, "surat_suara_diterima", k + 20)
        _bump(v, "surat_suara_tidak_digunakan", k + 20)
    elif rule == "R7":
        _bump(v, "surat_suara_tidak_digunakan", k)
    else:
        raise ValueError(f"unknown rule {rule!r}; expected one of {sorted(RULES)}")


def make_truth(
    contest: Contest | str,
    tps_code: str,
    seed: int,
    dpt: int | None = None,
    inconsistent: str | bool | None = None,
) -> Truth:
    """Counts for every field of the form. ``inconsistent``: a rule id, True (random), or None."""
    contest = Contest(contest)
    defn = definition(contest, tps_code)
    dpt = default_dpt(tps_code) if dpt is None else dpt
    if not 1 <= dpt <= 300:
        raise ValueError(f"DPT {dpt} outside 1..300")
    rng = rng_for("truth", contest.value, tps_code, seed)
    v: dict[str, int] = {}
    _voters(rng, dpt, v)
    _votes(rng, defn, v)
    rule: str | None = None
    if inconsistent:
        rule = str(rng.choice(sorted(RULES))) if inconsistent is True else str(inconsistent)
        _break(rng, defn, v, rule)
    values = {key: v[key] for key in defn.keys}  # print order
    return Truth(
        contest, tps_code, dpt, seed, values, rule, tuple(sorted(broken_rules(values, defn, dpt)))
    )
