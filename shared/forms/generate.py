"""Filled forms and their photos, in process: the API the OCR reader, tests and benchmarks use.

    truth = make_truth("PPWP", "1708042001001", seed=7)
    jpeg, gt = generate_photo("1708042001001", "PPWP", 1, truth, "typical", seed=7, side="eval")

``gt`` is JSON-ready: every field value of the form, every box symbol of the photographed page
('0'-'9', 'X', or '' for a box left empty) and the hand that wrote it (which MNIST sample or
font, ``handwriting.digit_glyph``), identity, difficulty, seed and the drawn photo parameters
(including where the page corners landed in the photo).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from shared.contests import Contest, definition
from shared.forms.handwriting import PenStyle, blend_ink, pick_pen, symbol_ink, symbols_for
from shared.forms.layout import layout, rect_px
from shared.forms.mnist import Side
from shared.forms.photo import BAD_KINDS, PRESETS, encode_jpeg, photograph, plan_shot, source_scale
from shared.forms.render import Image8, render_blank
from shared.forms.truth import Truth, make_truth, rng_for

RENDER_SCALES = (4.0, 5.0, 6.0, 8.0, 10.0, 12.0)  # px/mm of the cached blank pages
BLANK_LEADING_P = 0.03  # share of numbers whose unused leading boxes are left empty, not X-ed


def page_symbols(truth: Truth, page: int, rng: np.random.Generator) -> dict[str, list[str]]:
    """What the officer writes in each box of ``page``: field key -> 3 symbols."""
    defn = definition(truth.contest, truth.tps_code)
    return {
        f.key: symbols_for(truth.values[f.key], f.boxes, rng.random() < BLANK_LEADING_P)
        for f in defn.page_fields(page)
    }


class FilledPage(NamedTuple):
    image: Image8  # BGR
    hands: dict[str, list[str]]  # field key -> each box's hand (`handwriting.digit_glyph`)


def render_filled(
    tps_code: str,
    contest: Contest | str,
    page: int,
    symbols: dict[str, list[str]],
    px_per_mm: float,
    rng: np.random.Generator,
    side: Side = "eval",
    pen: PenStyle | None = None,
) -> FilledPage:
    """The flat page with ``symbols`` handwritten in its boxes (BGR, at ``px_per_mm``)."""
    img = np.array(render_blank(contest, tps_code, page, px_per_mm))
    lay = layout(contest, tps_code, page)
    pen = pen or pick_pen(rng)
    hands: dict[str, list[str]] = {}
    for f in lay.fields:
        for rect, sym in zip(f.boxes, symbols.get(f.key, []), strict=False):
            x0, y0, x1, y1 = rect_px(rect, px_per_mm)
            mask, hand = symbol_ink(rng, sym, y1 - y0, x1 - x0, side, pen.font_share)
            hands.setdefault(f.key, []).append(hand)
            if mask is not None:
                blend_ink(img[y0:y1, x0:x1], mask, pen.colour, pen.density)
    return FilledPage(img, hands)


def _other_tps(tps_code: str, rng: np.random.Generator) -> str:
    number = (int(tps_code[-3:]) + int(rng.integers(1, 20))) % 1000 or 1
    return f"{tps_code[:-3]}{number:03d}"


def generate_photo(
    tps_code: str,
    contest: Contest | str,
    page: int,
    truth: Truth | None = None,
    difficulty: str = "typical",
    seed: int = 0,
    side: Side = "eval",
    bad: str | None = None,
    inconsistent: str | bool | None = None,
) -> tuple[bytes, dict[str, Any]]:
    """One phone photo of page ``page`` of the filled form; returns ``(jpeg, ground_truth)``.

    ``truth`` defaults to ``make_truth(contest, tps_code, seed, inconsistent=inconsistent)``.
    ``bad`` is one of ``BAD_KINDS``: the photo is made to be refused (ground truth records
    ``bad`` and, for ``wrong_page``/``other_tps``, what the sheet really is).
    """
    contest = Contest(contest)
    if difficulty not in PRESETS:
        raise ValueError(f"difficulty must be one of {sorted(PRESETS)}")
    if bad is not None and bad not in BAD_KINDS:
        raise ValueError(f"bad must be one of {BAD_KINDS}")
    truth = truth or make_truth(contest, tps_code, seed, inconsistent=inconsistent)
    if (truth.contest, truth.tps_code) != (contest, tps_code):
        raise ValueError(f"truth is for {truth.contest} at {truth.tps_code}, not {contest}")
    defn = definition(contest, tps_code)
    rng = rng_for("photo", tps_code, contest.value, page, difficulty, seed, side, bad)
    shown_page, shown_tps = page, tps_code
    if bad == "wrong_page":
        others = [p for p in range(1, defn.pages + 1) if p != page]
        shown_page = int(rng.choice(others))
    elif bad == "other_tps":
        shown_tps = _other_tps(tps_code, rng)
    shot = plan_shot(rng, PRESETS[difficulty], bad)
    ppm = source_scale(shot, RENDER_SCALES)
    symbols = page_symbols(truth, shown_page, rng)
    flat = render_filled(shown_tps, contest, shown_page, symbols, ppm, rng, side)
    jpeg = encode_jpeg(photograph(flat.image, shot, rng), shot.jpeg)
    gt: dict[str, Any] = {
        "tps": tps_code,
        "contest": contest.value,
        "page": page,
        "pages": defn.pages,
        "difficulty": difficulty,
        "seed": seed,
        "side": side,
        "dpt": truth.dpt,
        "values": dict(truth.values),
        "fields": list(symbols),
        "boxes": symbols,
        "hands": flat.hands,
        "inconsistent_rule": truth.inconsistent_rule,
        "broken_rules": list(truth.broken_rules),
        "bad": bad,
        "shown": {"tps": shown_tps, "page": shown_page},
        "render_px_per_mm": ppm,
        "photo": shot.describe(),
    }
    return jpeg, gt
