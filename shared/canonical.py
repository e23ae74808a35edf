"""RFC 8785 (JSON Canonicalization Scheme) bytes: the exact bytes a log entry is hashed as.

The `rfc8785` package does the canonicalization; this module adds a guard that names the
offending path. RFC 8785 serialises numbers as IEEE-754 doubles, so an integer of magnitude
≥ 2^53 would silently lose precision in every other JSON implementation: we refuse it, and
callers write large integers, ids and hashes as strings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import rfc8785

# 2^53: the first integer an IEEE-754 double cannot tell from its neighbour.
MAX_SAFE_INTEGER = 2**53 - 1


class CanonicalJSONError(ValueError):
    """The value cannot be encoded as canonical JSON."""


def canonical_json(value: Any) -> bytes:
    """Return the RFC 8785 encoding of `value` (dicts, lists, str, int, float, bool, None)."""
    _check(value, "$")
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:  # NaN, infinities, unsupported types
        raise CanonicalJSONError(str(exc)) from exc


def _check(value: object, path: str) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise CanonicalJSONError(
                f"{path}: integer {value} is outside ±(2^53 - 1); write it as a string"
            )
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalJSONError(f"{path}: object key {key!r} is not a string")
            _check(item, f"{path}.{key}")
        return
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]")
        return
    raise CanonicalJSONError(f"{path}: {type(value).__name__} has no JSON form")
