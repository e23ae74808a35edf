"""Choose the auto-accept threshold on training-side pages read end to end.

For every page the decoder finds a consistent reading for, record its confidence and whether
the page may be accepted at all: every field right, the form as written consistent (a share of
the pages carry an officer's slip, as the benchmark's do) and the photo not one of a screen.
The threshold is the confidence with ODDS_MARGIN times fewer odds of being wrong than the most
confident page that must not be accepted, raised to at least FLOOR, so on this data no such
page would have been accepted.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from services.ocr.reader.classifier import Classifier, load
from services.ocr.reader.page import HARD_RULES, read_page
from services.ocr.reader.result import Claim
from services.ocr.train.data import page_spec
from shared.forms.generate import generate_photo
from shared.forms.truth import make_truth, rng_for

# Never accept a page the model itself gives more than a 0.1% chance of holding a wrong number,
# whatever the training-side pages say: 1,000 threshold pages cannot show a one-in-10,000
# failure, and an election day reads millions of pages. The sum of (1 - confidence) over the
# accepted pages is the expected number of wrong ones: on the five-contest day of the wide-digit
# model (11,757 readings) it was 2.54 at the old floor of 0.95, and one page was wrong (at
# 0.994); at 0.999 it is 0.58, at a cost of 140 of 9,604 automatic acceptances (docs/ocr.md).
FLOOR = 0.999
REPORT_AT = (0.5, 0.9, 0.99, 0.999)
# Headroom above the most confident wrong page, in odds: 10x fewer odds of being wrong.
ODDS_MARGIN = 10.0
# Shares of the threshold pages that must never be accepted, drawn like the benchmark's: a
# form whose written numbers break a rule, and a photo of a screen showing the form.
SLIP_SHARE = 0.08
SCREEN_SHARE = 0.04


@dataclass(frozen=True, slots=True)
class PageScore:
    confidence: float
    correct: bool  # may be accepted: every field right, a consistent form, not a screen
    consistent: bool  # the decoder found a consistent reading and no hard rule blocks the page
    kind: str = "normal"  # "normal", "slip" or "screen"
    difficulty: str = ""


def page_kind(i: int, seed: int) -> str:
    r = float(rng_for("ocr-threshold-kind", seed, i).random())
    return "slip" if r < SLIP_SHARE else "screen" if r < SLIP_SHARE + SCREEN_SHARE else "normal"


def score_page(model: Classifier, i: int, seed: int) -> PageScore | None:
    tps, contest, page, difficulty = page_spec(i, seed)
    kind = page_kind(i, seed)
    truth = make_truth(contest, tps, seed=seed * 7919 + i, inconsistent=kind == "slip" or None)
    bad = "screen" if kind == "screen" else None
    jpeg, gt = generate_photo(tps, contest, page, truth, difficulty, seed=i, side="train", bad=bad)
    reading = read_page(jpeg, Claim(tps, contest, page, truth.dpt), model)
    if not reading.fields:
        return None
    # Only a page no hard rule blocks can be accepted at some threshold: a screen caught by the
    # reader's own check, a cut corner or an unconfirmed TPS never reach the threshold.
    blocked = any(f.rule in HARD_RULES for f in reading.failing)
    consistent = reading.confidence > 0 and not blocked
    right = all(reading.fields[k].value == gt["values"][k] for k in reading.fields)
    return PageScore(reading.confidence, right and kind != "screen", consistent, kind, difficulty)


@lru_cache(maxsize=1)
def _worker_model(model_path: str, meta_path: str) -> Classifier:
    return load(Path(model_path), Path(meta_path))


def _work(args: tuple[str, str, int, int]) -> PageScore | None:
    model_path, meta_path, i, seed = args
    return score_page(_worker_model(model_path, meta_path), i, seed)


def _init() -> None:
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    import cv2

    cv2.setNumThreads(1)


def score_pages(
    model_path: Path, meta_path: Path, pages: int, seed: int, processes: int = 2
) -> list[PageScore]:
    """Score pages 0..pages-1 in `processes` spawned processes, each loading the model."""
    jobs = [(str(model_path), str(meta_path), i, seed) for i in range(pages)]
    ctx = mp.get_context("spawn")
    with ctx.Pool(processes, initializer=_init) as pool:
        found = pool.map(_work, jobs, chunksize=8)
    return [s for s in found if s is not None]


def choose_accept(scores: list[PageScore]) -> tuple[float, dict[str, float | str]]:
    wrong = [s.confidence for s in scores if s.consistent and not s.correct]
    worst = max(wrong, default=0.0)
    if worst >= 1.0:
        threshold = 1.0
    else:
        odds = worst / (1.0 - worst) * ODDS_MARGIN
        threshold = max(FLOOR, odds / (1.0 + odds))
    normal = [s for s in scores if s.kind == "normal"]
    accepted = [s for s in normal if s.consistent and s.confidence >= threshold]
    worst_kinds = sorted(
        (s for s in scores if s.consistent and not s.correct), key=lambda s: -s.confidence
    )[:3]
    stats: dict[str, float | str] = {
        "pages": float(len(scores)),
        "normal_pages": float(len(normal)),
        "slip_pages": float(sum(s.kind == "slip" for s in scores)),
        "screen_pages": float(sum(s.kind == "screen" for s in scores)),
        "consistent": float(sum(s.consistent for s in scores)),
        "wrong_consistent": float(len(wrong)),
        "worst_wrong_confidence": worst,
        # The three most confident pages that must not pass: kind/difficulty:confidence.
        "worst_wrong": ", ".join(
            f"{s.kind}/{s.difficulty}:{s.confidence:.4f}" for s in worst_kinds
        ),
        "accept_rate": len(accepted) / max(1, len(normal)),
        "accepted_wrong": float(
            sum(not s.correct for s in scores if s.consistent and s.confidence >= threshold)
        ),
    }
    for difficulty in ("clean", "typical", "hard"):
        part = [s for s in normal if s.difficulty == difficulty]
        ok = sum(s.consistent and s.confidence >= threshold for s in part)
        stats[f"accept_rate_{difficulty}"] = ok / max(1, len(part))
    for t in REPORT_AT:
        ok = sum(s.consistent and s.confidence >= t for s in normal)
        stats[f"accept_rate_at_{t}"] = ok / max(1, len(normal))
    return threshold, stats
