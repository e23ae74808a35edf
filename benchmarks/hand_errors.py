"""Where the classifier's misreads come from: the benchmark's own boxes, grouped by the hand
that wrote them.

The evaluation side holds ~2,000 MNIST digits and a 1,000-page run writes ~30,500 digit boxes,
so every sample is written ~15 times, each time at another size, slant, pen and photo. A sample
misread in most of its appearances is a shape the classifier takes for another digit (a 9
whose loop is open, read as 4), not a photo that blurred it: `persistent`. The figures say how
much of the misreading, and of the pages sent to a person, those few samples account for.

They are chosen on the same run they describe, so `auto_accept_rate_without` is what this run's
other pages show, not a rate a better classifier is promised: it says where the gap to a target
is, and whether the photo pipeline or the handwriting is the place to close it.

A look that is not chosen on the pages it describes:

    python -m benchmarks.hand_errors [--writes 40] [--model DIR]

writes every evaluation-side sample `--writes` times into a synthetic box (the training crops'
own path, `synth_crop`: another pen, size, slant, light and JPEG each time, no page) and reads
each with the classifier alone. It prints how many samples are ever misread, how many in more
than half of their writes, their share of all misreads, and that share against the share of
samples they are (`concentration`: 1 when misreads are spread evenly); one JSON line last.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from services.ocr.reader.boxes import ink_batch
from services.ocr.reader.classifier import Classifier, load_folder
from services.ocr.reader.result import PageReading
from services.ocr.reader.symbols import CLASSES
from services.ocr.train.synth import synth_crop
from shared.forms.handwriting import hand_image
from shared.forms.mnist import digit_samples

# A sample is persistent when it is misread in at least half of at least this many appearances.
MIN_SEEN = 3
SHOWN = 12  # samples listed in the JSON and drawn in the picture


@dataclass(frozen=True, slots=True)
class BoxCall:
    """One box of a page: where it is, what was written and what the classifier read."""

    field: str
    box: int
    truth: str
    read: str


def box_calls(reading: PageReading, gt: dict[str, Any]) -> list[BoxCall]:
    """Every box the reader classified, with the ground truth's symbol beside its top class."""
    return [
        BoxCall(key, box, gt["boxes"][key][box], CLASSES[int(np.argmax(probs))])
        for (key, box), probs in reading.box_probs.items()
    ]


@dataclass
class HandErrors:
    seen: Counter[str] = field(default_factory=Counter)
    misread: Counter[str] = field(default_factory=Counter)
    read_as: dict[str, Counter[str]] = field(default_factory=dict)
    pages: list[tuple[frozenset[str], bool]] = field(default_factory=list)

    def add_page(self, reading: PageReading, gt: dict[str, Any], accepted: bool) -> None:
        """One normal page's digit boxes; photos cached before hands were recorded have none."""
        hands = gt.get("hands")
        if hands is None:
            return
        on_page = set()
        for call in box_calls(reading, gt):
            hand = hands[call.field][call.box]
            if hand in ("", "x"):
                continue
            on_page.add(hand)
            self.seen[hand] += 1
            if call.read != call.truth:
                self.misread[hand] += 1
                self.read_as.setdefault(hand, Counter())[call.read or "blank"] += 1
        self.pages.append((frozenset(on_page), accepted))

    def persistent(self) -> list[str]:
        """The samples misread in at least half of at least MIN_SEEN appearances, worst first."""
        hands = [
            h for h, m in self.misread.items() if self.seen[h] >= MIN_SEEN and 2 * m >= self.seen[h]
        ]
        return sorted(hands, key=lambda h: (-self.misread[h] / self.seen[h], -self.misread[h], h))

    def persistent_share(self) -> float:
        """The persistent samples' share of all misreads."""
        total = sum(self.misread.values())
        return sum(self.misread[h] for h in self.persistent()) / max(1, total)

    def summary(self) -> dict[str, Any]:
        if not self.pages:
            return {}
        worst = set(self.persistent())
        with_worst = [accepted for hands, accepted in self.pages if hands & worst]
        without = [accepted for hands, accepted in self.pages if not hands & worst]
        return {
            "hands_misread": len(self.misread),
            "hands_seen": len(self.seen),
            "persistent_hands": len(worst),
            "persistent_share_of_misreads": round(self.persistent_share(), 3),
            "pages_with_a_persistent_hand": len(with_worst),
            "their_auto_accept_rate": round(sum(with_worst) / max(1, len(with_worst)), 3),
            "auto_accept_rate_without": round(sum(without) / max(1, len(without)), 4),
            "worst_hands": self.worst_hands(),
        }

    def worst_hands(self) -> list[dict[str, Any]]:
        return [
            {
                "hand": h,
                "misread": self.misread[h],
                "seen": self.seen[h],
                "read_as": self.read_as[h].most_common(1)[0][0],
            }
            for h in self.persistent()[:SHOWN]
        ]

    def draw(self, path: Path) -> None:
        """The persistent samples side by side, each labelled "hand: true -> read (misread/seen)",
        for a person to judge whether they would read them right."""
        tiles = []
        for h in self.persistent()[:SHOWN]:
            glyph = hand_image(h)
            side = max(glyph.shape)
            top, left = (side - glyph.shape[0]) // 2, (side - glyph.shape[1]) // 2
            square = cv2.copyMakeBorder(
                glyph,
                top,
                side - glyph.shape[0] - top,
                left,
                side - glyph.shape[1] - left,
                cv2.BORDER_CONSTANT,
                value=0,
            )
            big = 255 - cv2.resize(square, (84, 84), interpolation=cv2.INTER_AREA)
            tile = cv2.copyMakeBorder(big, 8, 40, 12, 12, cv2.BORDER_CONSTANT, value=255)
            read = self.read_as[h].most_common(1)[0][0]
            label = (h, f"{h.split(':')[1]} -> {read} ({self.misread[h]}/{self.seen[h]})")
            for row, text in enumerate(label):
                cv2.putText(tile, text, (4, 108 + 16 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.4, 0, 1)
            tiles.append(tile)
        if tiles:
            cv2.imwrite(str(path), np.hstack(tiles))


def written_many_times(model: Classifier, writes: int, seed: int = 5) -> HandErrors:
    """Every evaluation-side sample written `writes` times into a synthetic box and read."""
    _, labels = digit_samples("eval")
    rng = np.random.default_rng(seed)
    errors = HandErrors()
    for digit in range(10):
        for k in range(int((labels == digit).sum())):
            hand = f"eval:{digit}:{k}"
            crops = np.stack([synth_crop(rng, digit, hand) for _ in range(writes)])
            read = model.probs(ink_batch(crops)).argmax(1)
            errors.seen[hand] += writes
            for pred in read[read != digit]:
                errors.misread[hand] += 1
                errors.read_as.setdefault(hand, Counter())[CLASSES[int(pred)] or "blank"] += 1
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--writes", type=int, default=40)
    parser.add_argument(
        "--model", type=Path, default=None, help="a model folder (default: committed)"
    )
    parser.add_argument("--png", type=Path, default=None, help="draw the persistent samples here")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    model = load_folder(args.model)
    errors = written_many_times(model, args.writes)
    worst = errors.persistent()
    total = sum(errors.misread.values())
    share = errors.persistent_share()
    result = {
        "benchmark": "hand_errors",
        "writes": args.writes,
        "samples": len(errors.seen),
        "digit_accuracy": round(1 - total / max(1, sum(errors.seen.values())), 5),
        "samples_misread": len(errors.misread),
        "persistent_samples": len(worst),
        "persistent_share_of_misreads": round(share, 3),
        "concentration": round(share / max(len(worst) / len(errors.seen), 1e-9), 1),
        "worst_hands": errors.worst_hands(),
        "model_sha256": model.sha256,
    }
    print(
        f"{len(errors.misread)} of {len(errors.seen)} samples misread at least once in "
        f"{args.writes} writes; {len(worst)} in at least half, {share:.0%} of the misreads"
    )
    if args.png is not None:
        errors.draw(args.png)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
