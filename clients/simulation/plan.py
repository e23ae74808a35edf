"""What happens at each TPS on the simulated day, decided up front from a seed.

Every TPS photographs every page of every contest. Some officers meet trouble, at rates
chosen to exercise each path of the system rather than to match any real day:
a connection that drops mid-upload, a retry of an upload that already succeeded, a blurred
photo retaken, the wrong page or another TPS's form sent first, and forms whose own
arithmetic is wrong (the officers' mistake, which a person must confirm with a reason).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from shared.contests import Contest, definition
from shared.forms.truth import Truth, make_truth
from shared.reference.regions import villages_in
from shared.reference.tps import TpsRecord, generate_tps

MISHAP_RATES = {
    "flaky_link": 0.10,
    "retry_after_success": 0.05,
    "blurred_retake": 0.04,
    "wrong_page_first": 0.02,
    "other_tps_first": 0.02,
    "inconsistent_form": 0.02,
}


@dataclass
class TpsPlan:
    tps: TpsRecord
    truths: dict[str, Truth]
    pages: dict[str, int]
    mishaps: set[str] = field(default_factory=set)


def plan_day(
    scope: str, contests: list[Contest], seed: int, rates: dict[str, float] | None = None
) -> list[TpsPlan]:
    rng = random.Random(seed)
    rates = MISHAP_RATES if rates is None else rates
    plans = []
    for tps in generate_tps(villages_in(scope)):
        mishaps = {name for name, rate in rates.items() if rng.random() < rate}
        truths, pages = {}, {}
        for contest in contests:
            truths[contest.value] = make_truth(
                contest,
                tps.code,
                seed,
                dpt=tps.dpt,
                inconsistent=True if "inconsistent_form" in mishaps else None,
            )
            pages[contest.value] = definition(contest, tps.code).pages
        plans.append(TpsPlan(tps, truths, pages, mishaps))
    return plans


def expected_totals(plans: list[TpsPlan], contest: str) -> dict[str, dict[str, int]]:
    """Ground-truth totals of every region (dotted codes, up to the nation "00") and TPS."""
    totals: dict[str, dict[str, int]] = {}
    for plan in plans:
        desa = plan.tps.desa_code
        parts = desa.split(".")
        regions = ["00", *(".".join(parts[:i]) for i in range(1, len(parts) + 1))]
        for code in [*regions, plan.tps.code]:
            bucket = totals.setdefault(code, {})
            for key, value in plan.truths[contest].values.items():
                bucket[key] = bucket.get(key, 0) + value
    return totals
