"""Where the classifier's misreads come from: the benchmark's own boxes, grouped by the hand
that wrote them.

The evaluation side holds ~2,000 MNIST digits and a 1,000-page run writes ~25,000 digit boxes,
so every sample is written ~12 times, each time at another size, slant, pen and photo. A sample
misread in most of its appearances is a shape the classifier takes for another digit (a 9
whose loop is open, read as 4), not a photo that blurred it: `persistent`. The figures say how
much of the misreading, and of the pages sent to a person, those few samples account for.

They are chosen on the same run they describe, so `auto_accept_rate_without` is what this run's
other pages show, not a rate a better classifier is promised: it says where the gap to a target
is, and whether the photo pipeline or the handwriting is the place to close it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from services.ocr.reader.result import PageReading
from services.ocr.reader.symbols import CLASSES
from shared.forms.handwriting import hand_image

# A sample is persistent when it is misread in at least half of at least this many appearances.
MIN_SEEN = 3
SHOWN = 12  # samples listed in the JSON and drawn in the picture


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
        for (key, box), probs in reading.box_probs.items():
            hand = hands[key][box]
            if hand in ("", "x"):
                continue
            on_page.add(hand)
            self.seen[hand] += 1
            pred = CLASSES[int(np.argmax(probs))]
            if pred != gt["boxes"][key][box]:
                self.misread[hand] += 1
                self.read_as.setdefault(hand, Counter())[pred or "blank"] += 1
        self.pages.append((frozenset(on_page), accepted))

    def persistent(self) -> list[str]:
        """The samples misread in at least half of at least MIN_SEEN appearances, worst first."""
        hands = [
            h for h, m in self.misread.items() if self.seen[h] >= MIN_SEEN and 2 * m >= self.seen[h]
        ]
        return sorted(hands, key=lambda h: (-self.misread[h] / self.seen[h], -self.misread[h], h))

    def summary(self) -> dict[str, Any]:
        if not self.pages:
            return {}
        worst = set(self.persistent())
        total = sum(self.misread.values())
        with_worst = [accepted for hands, accepted in self.pages if hands & worst]
        without = [accepted for hands, accepted in self.pages if not hands & worst]
        return {
            "hands_misread": len(self.misread),
            "hands_seen": len(self.seen),
            "persistent_hands": len(worst),
            "persistent_share_of_misreads": round(
                sum(self.misread[h] for h in worst) / max(1, total), 3
            ),
            "pages_with_a_persistent_hand": len(with_worst),
            "their_auto_accept_rate": round(sum(with_worst) / max(1, len(with_worst)), 3),
            "auto_accept_rate_without": round(sum(without) / max(1, len(without)), 4),
            "worst_hands": [
                {
                    "hand": h,
                    "misread": self.misread[h],
                    "seen": self.seen[h],
                    "read_as": self.read_as[h].most_common(1)[0][0],
                }
                for h in self.persistent()[:SHOWN]
            ],
        }

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
