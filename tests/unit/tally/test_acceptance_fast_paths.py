"""The acceptance path's shortcuts give exactly what the general code gives."""

from __future__ import annotations

from datetime import UTC, datetime

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.acceptance import (
    TotalsDelta,
    changes_from,
    entry_body,
    form_of,
    total_rows,
    violations,
)
from shared.consistency import check
from shared.events import ENTRY_VERSION, format_time

TPS = "1708042001003"
PPWP = form_of("PPWP", TPS)
DPR = form_of("DPR", TPS)
AT = datetime(2024, 2, 15, 3, 4, 5, 678000, tzinfo=UTC)


def near_consistent(keys: list[str]) -> st.SearchStrategy[dict[str, int]]:
    """Readings that often satisfy every rule and often break one by a little."""
    return st.dictionaries(st.sampled_from(keys), st.integers(-2, 320), max_size=len(keys))


@settings(max_examples=300, deadline=None)
@given(data=st.data(), dpt=st.one_of(st.none(), st.integers(50, 300)))
def test_violations_equal_check(data: st.DataObject, dpt: int | None) -> None:
    for defn in (PPWP, DPR):
        values = data.draw(near_consistent(list(defn.keys)))
        assert violations(values, defn, dpt) == check(values, defn, dpt)


def test_violations_of_a_consistent_page_are_none() -> None:
    votes = {"100025": 10, "100026": 20, "100027": 30, "suara_sah": 60}
    values = {**votes, "suara_tidak_sah": 2, "suara_total": 62}
    assert violations(values, PPWP, 250) == check(values, PPWP, 250) == []
    broken = {**values, "100025": 562}
    assert violations(broken, PPWP, 250) == check(broken, PPWP, 250) != []


text = st.text(max_size=12)  # includes non-ASCII, astral characters and lone surrogates
ints = st.one_of(st.none(), st.integers(-(2**60), 2**60))


@settings(max_examples=300, deadline=None)
@given(
    values=st.dictionaries(st.sampled_from(list(PPWP.keys)), st.integers(0, 999), max_size=8),
    baseline=st.dictionaries(st.one_of(st.sampled_from(list(PPWP.keys)), text), ints, max_size=4),
    reading=ints,
    supersedes=ints,
    actor=text,
    reason=st.one_of(st.none(), text),
    sid=text,
    counted=st.booleans(),
)
def test_entry_body_is_the_rfc8785_entry(
    values: dict[str, int],
    baseline: dict[str, int | None],
    reading: int | None,
    supersedes: int | None,
    actor: str,
    reason: str | None,
    sid: str,
    counted: bool,
) -> None:
    payload = {
        "submission": sid,
        "submission_version": 2,
        "page": 1,
        "reading": reading,
        "source": "corrected",
        "revision": 3,
        "values": dict(sorted(values.items())),
        "counted": counted,
        "supersedes": supersedes,
        "changes": changes_from(baseline, values),
        "actor": actor,
        "reason": reason,
    }
    entry = {
        "v": ENTRY_VERSION,
        "kind": "correction",
        "tps": TPS,
        "contest": "PPWP",
        "prev": "ab" * 32,
        "time": format_time(AT),
        **payload,
    }
    try:
        expected: bytes | type[Exception] = rfc8785.dumps(entry)  # type: ignore[arg-type]
    except Exception as exc:
        expected = type(exc)
    if any(abs(v) > 2**53 - 1 for v in (reading, supersedes) if v is not None) or any(
        isinstance(v, int) and abs(v) > 2**53 - 1 for v in baseline.values()
    ):
        expected = ValueError  # canonical_json refuses integers beyond 2^53
    try:
        got: bytes | type[Exception] = entry_body(
            kind="correction", tps_code=TPS, contest="PPWP", prev="ab" * 32, at=AT, payload=payload
        )
    except Exception as exc:
        got = type(exc)
    if isinstance(expected, bytes):
        assert got == expected
    else:
        assert isinstance(got, type) and issubclass(got, ValueError | expected)


def test_totals_delta_sums_rows_in_one_lock_order() -> None:
    merged = TotalsDelta()
    merged.add("PPWP", TPS, {"100025": 3, "100026": 0, "_tps": 1}, shard=5)
    merged.add("PPWP", "1708042001004", {"100025": -1}, shard=5)
    merged.add("PPWP", "1101012001001", {"100025": 2})
    merged.add("PPWP", "1101012001002", {"100026": 4})
    merged.add("PPWP", "1101012001002", {"100026": -4})
    rows = merged.ordered()
    assert [r[:3] for r in rows] == sorted(r[:3] for r in rows)
    by_row = {(r[0], r[2]): r[3] for r in rows}
    assert by_row[("17.08.04.2001", 0)] == {"100025": 2, "_tps": 1}
    assert by_row[("00", 5)] == {"100025": 2, "_tps": 1}
    assert by_row[("00", 1101012001001 % 16)] == {"100025": 2}
    assert "100026" not in by_row[("17", 5)]  # zero deltas are not written
    assert all(list(r[3]) == sorted(r[3]) for r in rows)
    # A row whose deltas cancel out is not written at all.
    assert ("00", 1101012001002 % 16) not in by_row
    flat = total_rows("PPWP", TPS, {"100025": 3}, shard=5)
    assert {(r[0], r[2]) for r in flat} == {
        ("00", 5),
        ("17", 5),
        ("17.08", 5),
        ("17.08.04", 0),
        ("17.08.04.2001", 0),
    }
