"""The log-only recount's bookkeeping: which acceptance counts, and the citation checks."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from clients.auditor.client import LogClient
from clients.auditor.findings import Report
from clients.auditor.recount_log import LogRecount, region_chain, sirekap_path

TPS = "1708012001001"


def photo(version: int, page: int = 2) -> dict[str, Any]:
    return {
        "kind": "photo",
        "tps": TPS,
        "contest": "PPWP",
        "page": page,
        "version": version,
        "sha256": f"{version:064x}",
    }


def accepted(
    version: int,
    revision: int,
    values: dict[str, int],
    *,
    kind: str = "acceptance",
    counted: bool = True,
    supersedes: int | None = None,
    changes: dict[str, list[int]] | None = None,
    reading: int | None = None,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "tps": TPS,
        "contest": "PPWP",
        "page": 2,
        "submission_version": version,
        "revision": revision,
        "values": values,
        "counted": counted,
        "supersedes": supersedes,
        "changes": changes or {},
        "reading": reading,
    }


def run(*entries: dict[str, Any]) -> LogRecount:
    recount = LogRecount()
    for i, entry in enumerate(entries):
        recount.observe(i, entry)
    return recount


def checks(recount: LogRecount) -> list[str]:
    return [f.check for f in recount.problems]


def test_newest_version_counts_then_latest_entry() -> None:
    recount = run(
        photo(1),
        photo(2),
        accepted(2, 1, {"100025": 5}),
        accepted(1, 2, {"100025": 9}, counted=False, supersedes=40),  # an older photo
        accepted(2, 3, {"100025": 6}, kind="confirmation", supersedes=40),
    )
    assert checks(recount) == []
    assert recount.tps_values()[(TPS, "PPWP")] == {"100025": 6}
    totals = recount.region_totals()
    assert {r for r, _ in totals} == set(region_chain(TPS))
    assert totals[("17.08.01", "PPWP")] == {"100025": 6, "_tps": 1}


def test_a_correction_must_cite_what_counted() -> None:
    recount = run(
        photo(1),
        accepted(1, 1, {"100025": 5}),
        accepted(
            1,
            2,
            {"100025": 7},
            kind="correction",
            supersedes=40,
            changes={"100025": [4, 7]},  # the old value was 5
        ),
    )
    assert checks(recount) == ["correction-old-values"]
    assert recount.problems[0].culprit == f"tps:{TPS}"


@pytest.mark.parametrize(
    ("entries", "found"),
    [
        ([photo(1), accepted(2, 1, {"a": 1})], "acceptance-without-photo"),
        ([photo(1), accepted(1, 1, {"a": 1}, supersedes=3)], "supersedes-nothing"),
        (
            [photo(1), accepted(1, 1, {"a": 1}), accepted(1, 3, {"a": 2}, supersedes=9)],
            "revision-gap",
        ),
        ([photo(1), accepted(1, 1, {"a": 1}), accepted(1, 2, {"a": 2})], "supersedes-missing"),
        (
            [photo(1), photo(2), accepted(2, 1, {"a": 1}), accepted(1, 2, {"a": 2}, supersedes=9)],
            "counted-flag",  # an older photo's acceptance that claims to count
        ),
    ],
)
def test_citations_that_do_not_hold(entries: list[dict[str, Any]], found: str) -> None:
    assert checks(run(*entries)) == [found]


def test_a_correction_with_nothing_before_it() -> None:
    recount = run(accepted(1, 1, {"100025": 5}, kind="correction"))
    assert checks(recount) == ["acceptance-without-photo", "correction-cites-nothing"]
    # Numbers typed from the photo when the machine read nothing: the photo is what it cites.
    assert checks(run(photo(1), accepted(1, 1, {"100025": 5}, kind="correction"))) == []
    # A first review cites the machine's reading instead; it must be in the log.
    recount = run(photo(1), accepted(1, 1, {"100025": 5}, kind="correction", reading=7))
    assert checks(recount) == ["unknown-reading"]
    reading = {"kind": "reading", "tps": TPS, "contest": "PPWP", "page": 2, "reading": 7}
    recount = run(photo(1), reading, accepted(1, 1, {"100025": 5}, kind="correction", reading=7))
    assert checks(recount) == []


def test_one_database_id_names_one_entry() -> None:
    recount = run(
        photo(1),
        accepted(1, 1, {"100025": 5}),
        accepted(1, 2, {"100025": 6}, supersedes=10),  # learns: entry 1 is 10
        accepted(1, 3, {"100025": 7}, supersedes=10),  # but entry 2 counts now
    )
    assert checks(recount) == ["supersedes-mismatch"]


def dispute(revision: int, disputes: int | None) -> dict[str, Any]:
    return {
        "kind": "dispute",
        "tps": TPS,
        "contest": "PPWP",
        "page": 2,
        "revision": revision,
        "disputes": disputes,
    }


def test_disputes_cite_the_page_as_it_stands() -> None:
    one = [photo(1), accepted(1, 1, {"a": 1})]
    assert checks(run(photo(1), dispute(0, None))) == []
    assert checks(run(*one, dispute(1, 10), accepted(1, 2, {"a": 2}, supersedes=10))) == []
    assert checks(run(*one, dispute(2, 10))) == ["dispute-revision"]
    assert checks(run(*one, dispute(1, None))) == ["disputes-missing"]
    assert checks(run(*one, dispute(1, 10), accepted(1, 2, {"a": 2}, supersedes=11))) == [
        "supersedes-mismatch"
    ]


def test_paths() -> None:
    assert sirekap_path("00") == "/pemilu/hhcw/ppwp.json"
    assert sirekap_path("17.08.04.2001") == "/pemilu/hhcw/ppwp/17/1708/170804/1708042001.json"
    assert sirekap_path("1708042001003").endswith("/1708042001/1708042001003.json")


async def test_the_export_is_asked_for_as_it_is_now() -> None:
    """The tally, or a CDN, may serve a copy up to a minute old unless asked not to."""
    asked: list[httpx.Request] = []

    def tally(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(200, text="")

    transport = httpx.MockTransport(tally)
    async with httpx.AsyncClient(transport=transport, base_url="http://tally") as http:
        await LogRecount().check(LogClient(http), Report("http://tally"))
    exports = [r for r in asked if r.url.path == "/api/v1/export/results.jsonl"]
    assert exports and all(r.headers["cache-control"] == "no-cache" for r in exports)
