"""The classifier's 12 classes and how a row of boxes spells a number."""

from __future__ import annotations

from functools import lru_cache
from itertools import product

import numpy as np
import numpy.typing as npt

CLASSES = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "X", "")  # "" = blank box
X, BLANK = 10, 11
N_CLASSES = len(CLASSES)
INVALID = -1


def parse(symbols: tuple[int, ...]) -> int:
    """The number a row of box classes spells, or INVALID.

    Leading boxes may be X or blank (both mean "unused"); from the first digit on, every box must
    hold a digit: "X 6 2" = 62, "X X 0" = 0, "0 6 2" = 62, but "6 X 2", "X 6 X", "X X blank" and
    "X X X" spell nothing (the 2024 app read such an X as 5 or 8).
    """
    digits = ""
    for s in symbols:
        if s < 10:
            digits += str(s)
        elif digits:
            return INVALID
    return int(digits) if digits else INVALID


@lru_cache(maxsize=4)
def parse_table(boxes: int) -> npt.NDArray[np.int64]:
    """`parse` of every combination of `boxes` classes, flattened in C order (12**boxes)."""
    return np.array(
        [parse(combo) for combo in product(range(N_CLASSES), repeat=boxes)], dtype=np.int64
    )


def symbols_of(value: int, boxes: int) -> list[str]:
    """How the form's convention writes `value`: 62 -> ["X", "6", "2"]."""
    digits = str(value)
    return ["X"] * (boxes - len(digits)) + list(digits)
