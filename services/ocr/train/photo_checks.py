"""Choose the photo checks' thresholds on training-side photos.

`python -m services.ocr.train.photo_checks [--photos 1200]` (a minute on two cores) generates
training-side photos (`data.page_spec`'s contests, pages and difficulties; one in six blurred
and one in six dark, the generator's bad photos), measures each with the reader's own
`check_quality`, and prints for the paper brightness and the sharpness the range of the usable
photos and of the bad ones, and the geometric middle of the gap between them: the thresholds
`photo.py` uses. It ends with one JSON line. Torch-free; the evaluation side's digits are never
drawn.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
from dataclasses import dataclass

from services.ocr.reader.photo import (
    MIN_PAPER_BRIGHTNESS,
    MIN_SHARPNESS,
    check_quality,
    decode,
    preview,
)
from services.ocr.train.data import page_spec, training_photo

SEED = 88  # apart from the harvest's and the acceptance threshold's pages


@dataclass(frozen=True, slots=True)
class Measured:
    kind: str  # "usable", "blurred" or "dark"
    difficulty: str
    brightness: int
    sharpness: int


def photo_kind(i: int) -> str:
    return {2: "blurred", 5: "dark"}.get(i % 6, "usable")


def measure(i: int, seed: int = SEED) -> Measured:
    kind = photo_kind(i)
    jpeg, _ = training_photo(i, seed, bad=None if kind == "usable" else kind)
    photo = decode(jpeg)
    if photo is None:
        raise RuntimeError(f"generated photo {i} does not decode")
    quality = check_quality(photo, preview(photo))
    return Measured(kind, page_spec(i, seed)[3], quality.brightness, quality.sharpness)


def middle_of_gap(bad_max: int, usable_min: int) -> int:
    """The geometric middle of the gap between the bad photos' highest value and the usable
    ones' lowest, rounded; a ValueError when they overlap (no threshold separates them)."""
    if bad_max >= usable_min:
        raise ValueError(f"no gap: bad photos reach {bad_max}, usable ones start at {usable_min}")
    return round(math.sqrt(max(bad_max, 1) * usable_min))


def summarise(measured: list[Measured]) -> dict[str, object]:
    def values(kind: str, attr: str) -> list[int]:
        return [getattr(m, attr) for m in measured if m.kind == kind]

    out: dict[str, object] = {"photos": len(measured)}
    for attr, bad_kind, committed in (
        ("brightness", "dark", MIN_PAPER_BRIGHTNESS),
        ("sharpness", "blurred", MIN_SHARPNESS),
    ):
        usable, bad = values("usable", attr), values(bad_kind, attr)
        out[attr] = {
            "usable": [min(usable), max(usable)],
            bad_kind: [min(bad), max(bad)],
            "threshold": middle_of_gap(max(bad), min(usable)),
            "committed": committed,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=1200)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    if args.photos < 6:
        parser.error("--photos: at least 6, for one usable, one blurred and one dark photo")
    with mp.get_context("spawn").Pool(args.processes) as pool:
        measured = pool.map(measure, range(args.photos))
    summary = summarise(measured)
    for kind in ("usable", "blurred", "dark"):
        n = sum(m.kind == kind for m in measured)
        print(f"{kind:8s} {n:4d} photos")
    for attr in ("brightness", "sharpness"):
        print(f"{attr:10s} {summary[attr]}")
    print(json.dumps({"benchmark": "photo_checks", **summary}))


if __name__ == "__main__":
    main()
