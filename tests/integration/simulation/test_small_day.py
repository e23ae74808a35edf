"""A small election day end to end: one village, every mishap, real processes over HTTP."""

from __future__ import annotations

import asyncio

import pytest

from clients.simulation.day import OFFICIAL_PASSWORD, Day
from clients.simulation.plan import MISHAP_RATES, plan_day
from clients.simulation.stack import running_stack
from shared.contests import Contest

VILLAGE = "17.08.04.2001"


@pytest.mark.slow
def test_a_village_election_day_is_counted_exactly_and_verifies(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Every TPS meets trouble, so each path (drops, retries, retakes, wrong forms, forms whose
    # arithmetic is wrong) is exercised even in a village of a few TPS.
    rates = dict.fromkeys(MISHAP_RATES, 0.5)
    plans = plan_day(VILLAGE, [Contest.PPWP], seed=7, rates=rates)
    assert len(plans) >= 3
    assert set().union(*(p.mishaps for p in plans)) == set(MISHAP_RATES)
    with running_stack(
        "embedded",
        scope=VILLAGE,
        official=("sim-kpu", "KPU_KABKOTA", "17.08"),
        password=OFFICIAL_PASSWORD,
    ) as stack:
        day = Day(
            stack,
            plans,
            clients=4,
            difficulty="typical",
            seed=7,
            username="sim-kpu",
            progress_every_s=1.0,
        )
        report = asyncio.run(day.run(timeout_s=240))
    assert report["tally_matches_truth"], report["mismatches"]
    assert report["silent_errors"] == 0
    assert report["verified"]
    assert report["photos_uploaded"] > sum(p.pages["PPWP"] for p in plans)  # retakes, retries
    progress = capsys.readouterr().err
    assert "photos" in progress and f"PPWP {len(plans)}/{len(plans)}" in progress, progress
