"""The arithmetic a C.Hasil form must satisfy, as data.

The seven rules of ``domain.md`` are expressed as linear relations over field keys
(``sum(lhs) == sum(rhs)`` or ``sum(lhs) <= sum(rhs)``) plus a per-field upper bound (rule 6).
The same data serves two users:

- ``check(values, defn, dpt)`` lists the violations of a reading (tally, audit verifier);
- ``relations(defn)`` and ``bounds(defn, dpt)`` let the OCR decoder search digit combinations
  for the most probable reading that satisfies every rule.

A relation naming a field that is absent from ``values`` is skipped, so a single page can be
checked on its own; rule 5 and 7 span pages and need the whole form.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from shared.contests import ContestDefinition
from shared.contests.definition import SEXES, VOTER_ROWS

MAX_DPT = 300  # Pemilu 2024: at most 300 voters per TPS
RESERVE = 0.02  # ballot papers: DPT + 2% reserve, rounded up


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    text_en: str
    text_id: str


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule("R1", "each voter row: total = men + women", "setiap baris pemilih: J = L + P"),
        Rule(
            "R2",
            "voters who voted: total = DPT + DPTb + DPK",
            "pengguna hak pilih: jumlah = DPT + DPTb + DPK",
        ),
        Rule(
            "R3",
            "votes for candidates (and parties) add up to the valid votes",
            "jumlah perolehan suara calon (dan partai) sama dengan suara sah",
        ),
        Rule(
            "R4",
            "valid + invalid votes = total votes",
            "suara sah + suara tidak sah = jumlah suara",
        ),
        Rule(
            "R5",
            "total votes do not exceed the voters who voted",
            "jumlah suara tidak melebihi jumlah pengguna hak pilih",
        ),
        Rule(
            "R6",
            "no count above the TPS's ballot supply (DPT + 2% reserve)",
            "tidak ada angka melebihi jumlah surat suara TPS (DPT + 2% cadangan)",
        ),
        Rule(
            "R7",
            "ballots used = voters who voted; received = used + unused + damaged",
            "surat suara digunakan = pengguna hak pilih; diterima = digunakan + "
            "tidak digunakan + rusak",
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Relation:
    """``sum(values[k] for k in lhs) <op> sum(values[k] for k in rhs)``."""

    rule: str
    lhs: tuple[str, ...]
    rhs: tuple[str, ...]
    op: Literal["==", "<="]

    @property
    def keys(self) -> tuple[str, ...]:
        return self.lhs + self.rhs

    def applies(self, values: Mapping[str, int]) -> bool:
        return all(k in values for k in self.keys)

    def holds(self, values: Mapping[str, int]) -> bool:
        left = sum(values[k] for k in self.lhs)
        right = sum(values[k] for k in self.rhs)
        return left == right if self.op == "==" else left <= right


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    fields: tuple[str, ...]
    message_en: str
    message_id: str


def supply(dpt: int | None) -> int:
    """Ballot papers a TPS receives: DPT + 2% reserve (rounded up); 306 when DPT is unknown."""
    voters = MAX_DPT if dpt is None else dpt
    return voters + math.ceil(voters * RESERVE - 1e-9)


@lru_cache(maxsize=1024)
def relations(defn: ContestDefinition) -> tuple[Relation, ...]:
    """Every equality/inequality of rules 1-5 and 7 for this form (rule 6 is ``bounds``)."""
    keys = set(defn.keys)
    rels: list[Relation] = []
    for prefix, _, _ in VOTER_ROWS:
        rels.append(Relation("R1", (f"{prefix}_j",), (f"{prefix}_l", f"{prefix}_p"), "=="))
    for s, _, _ in SEXES:
        parts: tuple[str, ...] = (
            f"pengguna_dpt_{s}",
            f"pengguna_dptb_{s}",
            f"pengguna_non_dpt_{s}",
        )
        rels.append(Relation("R2", (f"pengguna_total_{s}",), parts, "=="))
    for pl in defn.parties:
        parts = (pl.votes_key, *(c.field_key for c in pl.candidates))
        rels.append(Relation("R3", (pl.total_key,), parts, "=="))
    rels.append(Relation("R3", ("suara_sah",), defn.vote_keys, "=="))
    rels.append(Relation("R4", ("suara_total",), ("suara_sah", "suara_tidak_sah"), "=="))
    rels.append(Relation("R5", ("suara_total",), ("pengguna_total_j",), "<="))
    rels.append(Relation("R7", ("surat_suara_digunakan",), ("pengguna_total_j",), "=="))
    rels.append(
        Relation(
            "R7",
            ("surat_suara_diterima",),
            ("surat_suara_digunakan", "surat_suara_tidak_digunakan", "surat_suara_dikembalikan"),
            "==",
        )
    )
    missing = {k for r in rels for k in r.keys} - keys
    if missing:  # a definition bug, not a bad reading
        raise ValueError(f"relations name fields the form lacks: {sorted(missing)}")
    return tuple(rels)


def bounds(defn: ContestDefinition, dpt: int | None = None) -> dict[str, int]:
    """Rule 6 as an inclusive upper bound per field (lower bound is always 0)."""
    top = supply(dpt)
    return {k: top for k in defn.keys}


def _message(rel: Relation, values: Mapping[str, int]) -> tuple[str, str]:
    left = " + ".join(rel.lhs)
    right = " + ".join(rel.rhs)
    lv = sum(values[k] for k in rel.lhs)
    rv = sum(values[k] for k in rel.rhs)
    rule = RULES[rel.rule]
    if rel.op == "==":
        return (
            f"{rule.id}: {left} ({lv}) != {right} ({rv}); {rule.text_en}",
            f"{rule.id}: {left} ({lv}) tidak sama dengan {right} ({rv}); {rule.text_id}",
        )
    return (
        f"{rule.id}: {left} ({lv}) > {right} ({rv}); {rule.text_en}",
        f"{rule.id}: {left} ({lv}) melebihi {right} ({rv}); {rule.text_id}",
    )


def check(
    values: Mapping[str, int], defn: ContestDefinition, dpt: int | None = None
) -> list[Violation]:
    """The rule violations of ``values`` (empty when the reading is consistent).

    ``dpt`` is the TPS's number of voters on the permanent list, if known; without it rule 6
    uses the national maximum (300 + reserve). Relations over absent fields are skipped.
    """
    out: list[Violation] = []
    for rel in relations(defn):
        if rel.applies(values) and not rel.holds(values):
            en, id_ = _message(rel, values)
            out.append(Violation(rel.rule, rel.keys, en, id_))
    top = supply(dpt)
    r6 = RULES["R6"]
    for key in defn.keys:
        v = values.get(key)
        if v is None:
            continue
        if v < 0 or v > top:
            out.append(
                Violation(
                    "R6",
                    (key,),
                    f"R6: {key} = {v} outside 0..{top}; {r6.text_en}",
                    f"R6: {key} = {v} di luar 0..{top}; {r6.text_id}",
                )
            )
    return out


def broken_rules(
    values: Mapping[str, int], defn: ContestDefinition, dpt: int | None = None
) -> set[str]:
    """The ids of the rules ``values`` break."""
    return {v.rule for v in check(values, defn, dpt)}
