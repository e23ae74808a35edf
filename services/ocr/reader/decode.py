"""Decode a page as a whole: the most probable field values that satisfy every rule.

Branch and bound over the fields' candidate lists. Fields are visited so that each relation is
complete as early as possible; a relation is checked the moment its last field is assigned, and
a branch is cut when even the best remaining candidates could not beat the current runner-up.
The two best consistent assignments are kept: the margin between them is half the evidence for
accepting the page automatically.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from services.ocr.reader.numbers import FieldCandidates
from services.ocr.reader.slip import slip_odds
from shared.consistency import Relation

# A page has at most ~36 fields with 6 candidates each; with the relation checks the search
# visits < 2,000 nodes on typical pages (docs/ocr.md). Past this limit the page goes to a person.
MAX_NODES = 20_000
LOG_FLOOR = -1e9
# An assignment this many nats less likely than the best adds under e^-20 (2e-9) to the odds
# against it: nothing beside the 1e-3 of odds that acceptance at 0.999 allows. Without
# this window the search had to find *some* runner-up however unlikely: on sure pages with a
# long sum (DPD's 19 candidates, DPRD's parties) that meant two compensating changes, and 16
# typical pages of 1,000 ran into MAX_NODES and went to a person with confidence 0.99999.
RUNNER_UP_WINDOW = 20.0


@dataclass(frozen=True, slots=True)
class Decoded:
    values: dict[str, int] | None  # None: no consistent combination among the candidates
    log_prob: float
    runner_up_log_prob: float | None  # at most s1 - RUNNER_UP_WINDOW when none is nearer
    confidence: float  # approximate posterior that every field is right (0 when values is None)
    nodes: int
    complete: bool  # False when MAX_NODES cut the search short


@lru_cache(maxsize=256)
def _order(keys: tuple[str, ...], relations: tuple[Relation, ...]) -> list[str]:
    """Fields in an order that completes relations early (greedy, most constrained first)."""
    remaining = list(keys)
    order: list[str] = []
    placed: set[str] = set()
    while remaining:

        def score(k: str) -> tuple[int, int]:
            # Relations this field would complete, then how many relations it is in at all.
            completes = sum(
                1 for r in relations if k in r.keys and all(x in placed or x == k for x in r.keys)
            )
            touches = sum(1 for r in relations if k in r.keys and any(x in placed for x in r.keys))
            degree = sum(1 for r in relations if k in r.keys)
            return (completes * 100 + touches * 10 + degree, -remaining.index(k))

        best = max(remaining, key=score)
        remaining.remove(best)
        order.append(best)
        placed.add(best)
    return order


def decode(
    fields: Mapping[str, FieldCandidates],
    relations: Sequence[Relation],
    max_nodes: int = MAX_NODES,
) -> Decoded:
    """The best and runner-up assignments of `fields` that satisfy `relations`.

    Only relations whose fields are all in `fields` are used (a page is decoded on its own).
    """
    rels = [r for r in relations if all(k in fields for k in r.keys)]
    order = list(_order(tuple(fields), tuple(rels)))
    pos = {k: i for i, k in enumerate(order)}
    # The relations to check when the field at depth d is assigned: those it completes.
    checks: list[list[Relation]] = [[] for _ in order]
    for r in rels:
        checks[max(pos[k] for k in r.keys)].append(r)
    cands = [
        [
            (v, math.log(p) if p > 0 else LOG_FLOOR)
            for v, p in zip(fields[k].values, fields[k].probs, strict=True)
        ]
        for k in order
    ]
    suffix = [0.0] * (len(order) + 1)
    for d in range(len(order) - 1, -1, -1):
        suffix[d] = suffix[d + 1] + (cands[d][0][1] if cands[d] else LOG_FLOOR)

    best: list[tuple[float, dict[str, int]]] = []  # up to two, best first
    nodes = 0
    complete = True
    current: dict[str, int] = {}

    def floor() -> float:
        if not best:
            return -math.inf
        window = best[0][0] - RUNNER_UP_WINDOW
        return max(best[1][0], window) if len(best) == 2 else window

    def visit(d: int, score: float) -> None:
        nonlocal nodes, complete
        if d == len(order):
            best.append((score, dict(current)))
            best.sort(key=lambda t: -t[0])
            del best[2:]
            return
        key = order[d]
        for value, lp in cands[d]:
            if nodes >= max_nodes:
                complete = False
                return
            s = score + lp
            if s + suffix[d + 1] <= floor():
                break  # candidates are sorted: the rest score lower still
            nodes += 1
            current[key] = value
            if all(r.holds(current) for r in checks[d]):
                visit(d + 1, s)
            del current[key]

    visit(0, 0.0)
    if not best:
        return Decoded(None, LOG_FLOOR, None, 0.0, nodes, complete)
    s1, values = best[0]
    # No runner-up inside the window: bound its odds by the window's edge, do not call it 0.
    s2 = best[1][0] if len(best) > 1 else s1 - RUNNER_UP_WINDOW
    return Decoded(values, s1, s2, confidence(fields, rels, values, s1, s2), nodes, complete)


def confidence(
    fields: Mapping[str, FieldCandidates],
    relations: Sequence[Relation],
    values: Mapping[str, int],
    s1: float,
    s2: float | None,
) -> float:
    """Approximate posterior of the chosen assignment against the alternatives it competes with.

    Alternatives: the runner-up consistent assignment; the form as written being inconsistent
    (the officer's slip, `slip.py`); and, per field, "the true number is none
    of its candidates" (odds other / p). A field in an equality can only be something else if
    a related field is wrong too, so that weight is multiplied by the likeliest such second
    error (1 - p of the related field). An earlier version divided that by p as well; a field
    corrected by the arithmetic (p ~ 0.01) then sank every neighbour's confidence and sent 45%
    of right typical pages to review.
    """
    odds = math.exp(s2 - s1) if s2 is not None else 0.0
    # The form as written may itself break a rule (the officer's slip), read as consistent.
    odds += slip_odds(fields, relations, values, s1)
    in_eq: dict[str, set[str]] = {k: set() for k in fields}
    for r in relations:
        if r.op == "==":
            for k in r.keys:
                in_eq[k].update(x for x in r.keys if x != k)
    chosen_p = {k: fields[k].prob(values[k]) for k in fields}
    for k, f in fields.items():
        alt = f.other / max(chosen_p[k], 1e-12)
        if in_eq[k]:
            alt *= max(1.0 - chosen_p[g] for g in in_eq[k])
        odds += alt
    return 1.0 / (1.0 + odds)
