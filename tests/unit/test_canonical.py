from __future__ import annotations

import json

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.canonical import MAX_SAFE_INTEGER, CanonicalJSONError, canonical_json


def test_sorted_keys_no_whitespace() -> None:
    assert canonical_json({"b": [1, "x"], "a": None, "é": True}) == (
        '{"a":null,"b":[1,"x"],"é":true}'.encode()
    )


@pytest.mark.parametrize("big", [2**53, -(2**53), 10**20])
def test_large_integers_are_refused_with_their_path(big: int) -> None:
    with pytest.raises(CanonicalJSONError, match=r"\$\.votes\[1\]"):
        canonical_json({"votes": [1, big]})


def test_largest_safe_integer_passes() -> None:
    assert canonical_json(MAX_SAFE_INTEGER) == b"9007199254740991"


@pytest.mark.parametrize("bad", [float("nan"), b"bytes", {1: "x"}, object()])
def test_non_json_values_are_refused(bad: object) -> None:
    with pytest.raises(CanonicalJSONError):
        canonical_json({"v": bad})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=20,
)


@settings(deadline=None)  # machine load is not a failure
@given(json_values)
def test_canonical_bytes_parse_back_and_are_stable(value: object) -> None:
    encoded = canonical_json(value)
    assert json.loads(encoded) == value
    assert canonical_json(json.loads(encoded)) == encoded
    assert b"\n" not in encoded  # entries can be served one per line


_json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)
)
_json_values = st.recursive(
    _json_leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@given(_json_values)
def test_fast_path_is_byte_identical_to_the_reference_encoder(value: object) -> None:
    """The json.dumps fast path and the rfc8785 package agree on every value they both take."""
    try:
        reference = rfc8785.dumps(value)  # type: ignore[arg-type]  # any JSON-ish value
    except Exception:  # lone surrogates and the like: ours must refuse too
        with pytest.raises(Exception):  # noqa: B017
            canonical_json(value)
        return
    assert canonical_json(value) == reference
