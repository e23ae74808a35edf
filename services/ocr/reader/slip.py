"""The officer's slip: the odds that the form as written breaks a rule and was read as if not.

A page's chosen numbers satisfy every rule. Beside a misread, the other way for them to be
wrong is that the officer's own arithmetic was wrong (a slip) and the boxes of the number the
slip wrote were read, or overruled, into a consistent form nobody wrote. Against the chosen
numbers V the odds of that are

    SLIP_PRIOR x sum over written forms W of  P(W | slip) / P(V | no slip)  x  L(W) / L(V)

with L the boxes' likelihood. The forms W weighed are the boxes' own most probable reading when
it breaks a rule (the decoder overruled a box), and V with one field changed to another of its
candidates (a box whose other reading would put the page out of balance).

The slip model behind P(W | slip): a consistent form (every one as likely, as the decoder
assumes), of which the officer wrote one number wrong: any of the n numbers that a rule checks,
off by an amount e. How far a slip is off is not known for 2024; what is known is that no count
passes 300 (domain.md). So e is scale-free on 1..300, either sign (log-uniform: a slip as likely
in the units as in the tens or the hundreds), P(e) = 1 / (2 H(300) |e|): 0.080 for 1, 0.008 for
10, 0.0013 for 60. W can come from as many consistent forms as it has numbers whose one change
would balance it, so P(W | slip) / P(V | no slip) = sum over those numbers of P(their e) / n.

Earlier rounds charged a page only when the decoder overruled a box, and then as if a slip always
wrote exactly the boxes' reading (the ratio taken as 1); `docs/ocr.md` ("The officer's slip") has
what each model measured.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

from services.ocr.reader.numbers import FieldCandidates
from shared.consistency import Relation

# Prior odds that the officer's own arithmetic is wrong on a page. Unknown for 2024; the
# benchmark plants 5% inconsistent forms.
SLIP_PRIOR = 0.05
# The largest amount a slip can put a rule out by: no count on a C.Hasil passes 300.
SLIP_SPAN = 300
_HARMONIC = sum(1.0 / k for k in range(1, SLIP_SPAN + 1))
# exp() of a log-likelihood ratio is capped here: a form this much likelier than the chosen
# one already makes the page hopeless.
_MAX_LOG_RATIO = 50.0


def slip_chance(change: int) -> float:
    """P(a slip writes a number off by exactly `change`): log-uniform in size, either sign."""
    size = min(abs(change), SLIP_SPAN)
    return 1.0 / (2.0 * _HARMONIC * size)


def slip_odds(
    fields: Mapping[str, FieldCandidates],
    relations: Sequence[Relation],
    values: Mapping[str, int],
    log_prob: float,
) -> float:
    """Odds that the page is a slip read as consistent, against `values` (consistent, with
    log-likelihood `log_prob`); see the module docstring."""
    checked = [k for k in fields if any(k in r.keys for r in relations)]
    if not checked:
        return 0.0
    # Fields in exactly the same equalities can each be the one a slip wrote: a form put out of
    # balance by one of them is the same form as one put out by another, corrected. Counted from
    # these signatures, not by `_one_slip_chance` (which walks every rule) for each of a page's
    # ~100-200 candidates; the signatures leave out the `<=` rule and the floor of 0, so they
    # can count a way too many (the conservative side).
    signature = {
        k: frozenset(i for i, r in enumerate(relations) if r.op == "==" and k in r.keys)
        for k in checked
    }
    alike = Counter(signature.values())
    total = 0.0
    top = {k: f.values[0] for k, f in fields.items() if f.values}
    differ = [k for k in fields if top.get(k) != values[k]]
    if len(top) == len(fields) and differ:
        top_log = sum(math.log(f.probs[0]) for f in fields.values())
        chance = _one_slip_chance(relations, top)
        total += chance * math.exp(min(top_log - log_prob, _MAX_LOG_RATIO))
    for key in checked:
        f = fields[key]
        chosen_p = f.prob(values[key])
        if chosen_p <= 0.0:
            continue
        for value, p in zip(f.values, f.probs, strict=True):
            if value == values[key] or p <= 0.0 or (differ == [key] and value == top[key]):
                continue  # the boxes' own reading, when it differs in this field only, is above
            change = value - values[key]
            if signature[key]:
                chance = alike[signature[key]] * slip_chance(change)
            else:  # only in inequalities: a slip there if the change breaks one
                chance = _one_slip_chance(relations, {**values, key: value})
            total += chance * min(p / chosen_p, math.exp(_MAX_LOG_RATIO))
    return SLIP_PRIOR * total / len(checked)


def _one_slip_chance(relations: Sequence[Relation], written: Mapping[str, int]) -> float:
    """Sum over the numbers whose one change makes `written` consistent of the chance that a
    slip wrote it off by that change; 0 when `written` breaks no rule (or needs two slips)."""
    broken = [r for r in relations if not r.holds(written)]
    if not broken:
        return 0.0
    total = 0.0
    suspects = set.intersection(*(set(r.keys) for r in broken))
    first = broken[0]
    off = sum(written[k] for k in first.lhs) - sum(written[k] for k in first.rhs)
    for key in suspects:
        # The change to `key` that balances the first broken rule (for an inequality, the
        # smallest that does); the check below asks whether it balances the others too.
        change = -off if key in first.lhs else off
        fixed = {**written, key: written[key] + change}
        if fixed[key] >= 0 and all(r.holds(fixed) for r in relations if key in r.keys):
            total += slip_chance(change)
    return total
