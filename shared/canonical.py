"""RFC 8785 (JSON Canonicalization Scheme) bytes: the exact bytes a log entry is hashed as.

The `rfc8785` package does the canonicalization; this module adds a guard that names the
offending path. RFC 8785 serialises numbers as IEEE-754 doubles, so an integer of magnitude
≥ 2^53 would silently lose precision in every other JSON implementation: we refuse it, and
callers write large integers, ids and hashes as strings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import rfc8785

# 2^53: the first integer an IEEE-754 double cannot tell from its neighbour.
MAX_SAFE_INTEGER = 2**53 - 1


class CanonicalJSONError(ValueError):
    """The value cannot be encoded as canonical JSON."""


def canonical_json(value: Any) -> bytes:
    """Return the RFC 8785 encoding of `value` (dicts, lists, str, int, float, bool, None).

    Fast path: without floats, and with object keys inside the Basic Multilingual Plane, RFC
    8785 is byte for byte what a compact, key-sorted encoder leaving non-ASCII as UTF-8 writes
    (`plain_json`: integers print alike, both escape only `"`, `\\` and control characters,
    and UTF-16 key order equals code-point order within the BMP). Every upload, reading and
    acceptance encodes one entry, and the pure-Python encoder was half an acceptance's CPU.
    Anything else takes the `rfc8785` package's path.
    """
    if _check(value, "$") and (fast := plain_json(value)) is not None:
        return fast
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:  # NaN, infinities, unsupported types
        raise CanonicalJSONError(str(exc)) from exc


# orjson writes exactly what the standard library's compact, sorted, non-ASCII encoder writes
# (property-tested against `rfc8785` in tests/unit/test_canonical.py) at a fifth of the cost;
# times and dataclasses are refused, not turned into strings, as `json.dumps` refuses them.
_ORJSON_OPTIONS = (
    orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def plain_json(value: Any) -> bytes | None:
    """The fast path's bytes, for a value the caller knows has the fast form (see
    `canonical_json`); None when the encoder refuses it (a lone surrogate, an integer beyond
    64 bits, a stray type), for the reference encoder to name the problem."""
    try:
        return orjson.dumps(value, option=_ORJSON_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return None


def _check(value: object, path: str) -> bool:
    """Raise on what has no canonical form; True when the fast path encodes it exactly."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    if isinstance(value, float):
        return False  # ES6 number formatting differs from Python's repr
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise CanonicalJSONError(
                f"{path}: integer {value} is outside ±(2^53 - 1); write it as a string"
            )
        return True
    plain = True
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalJSONError(f"{path}: object key {key!r} is not a string")
            if not key.isascii() and max(map(ord, key)) > 0xFFFF:
                plain = False  # UTF-16 order differs from code-point order outside the BMP
            plain = _check(item, f"{path}.{key}") and plain
        return plain
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        for i, item in enumerate(value):
            plain = _check(item, f"{path}[{i}]") and plain
        return plain
    raise CanonicalJSONError(f"{path}: {type(value).__name__} has no JSON form")
