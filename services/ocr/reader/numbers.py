"""From per-box class probabilities to each field's most probable numbers.

Exact, not a beam: the joint distribution of a 3-box field has 12**3 = 1,728 combinations, so
all of them are scored with one outer product and summed per number they spell (~20 µs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.ocr.reader.symbols import INVALID, parse_table

Probs = npt.NDArray[np.float32]

TOP_VALUES = 6  # candidates kept per field for the form decoder
MIN_VALUE_PROB = 1e-6  # a number less likely than this is never worth a branch


@dataclass(frozen=True, slots=True)
class FieldCandidates:
    key: str
    values: tuple[int, ...]  # most probable first
    probs: tuple[float, ...]
    other: float  # probability that the field is none of `values` (incl. no valid number)

    @property
    def best(self) -> int | None:
        return self.values[0] if self.values else None

    def prob(self, value: int) -> float:
        """The probability of `value`, 0 when it is not a candidate."""
        for v, p in zip(self.values, self.probs, strict=True):
            if v == value:
                return p
        return 0.0


def field_candidates(key: str, box_probs: Probs, max_value: int | None = None) -> FieldCandidates:
    """`box_probs` is [boxes, 12]; numbers above `max_value` are dropped (rule 6)."""
    n = box_probs.shape[0]
    joint = box_probs[0].astype(np.float64)
    for row in box_probs[1:]:
        joint = np.multiply.outer(joint, row.astype(np.float64)).ravel()
    table = parse_table(n)
    valid = table != INVALID
    mass = np.bincount(table[valid], weights=joint[valid], minlength=10**n)
    if max_value is not None:
        mass[max_value + 1 :] = 0.0
    k = min(TOP_VALUES, len(mass))
    top = np.argpartition(-mass, k - 1)[:k]
    top = top[np.argsort(-mass[top])]
    top = top[mass[top] >= MIN_VALUE_PROB]
    probs = tuple(float(mass[v]) for v in top)
    total = float(joint.sum())
    other = max(0.0, 1.0 - sum(probs) / total) if total > 0 else 1.0
    return FieldCandidates(key, tuple(int(v) for v in top), tuple(p / total for p in probs), other)
