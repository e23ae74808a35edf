"""Handwritten digits and X marks, as ink masks, and a pen that writes them into boxes.

Digit sources: real MNIST handwriting (``shared.forms.mnist``, train or eval side, or for
training only the wider set of ``shared.forms.mnist_wide``) and, for variety, the
handwriting-like fonts Humor Sans and Comic Neue. An ink mask is float32 in 0..1 (1 = full
ink); ``Pen.write`` blends it into a BGR page with a ballpoint colour, so ink is never pure
black and its density varies with pressure.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal, cast

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from shared.forms.mnist import Side, digit_samples
from shared.forms.mnist_wide import training_digits

# Where a digit's handwriting comes from: a side of the fixed split, or (training only) every
# MNIST digit that is not on the evaluation side.
DigitSource = Side | Literal["train_wide"]

Mask = npt.NDArray[np.float32]
Image8 = npt.NDArray[np.uint8]

HANDWRITING_FONTS = (
    Path("/usr/share/fonts/truetype/humor-sans/Humor-Sans.ttf"),
    Path("/usr/share/fonts/opentype/comic-neue/ComicNeue-Regular.otf"),
    Path("/usr/share/fonts/opentype/comic-neue/ComicNeue-Bold.otf"),
    Path("/usr/share/fonts/opentype/comic-neue/ComicNeue-Italic.otf"),
    Path("/usr/share/fonts/opentype/comic-neue/ComicNeue-Light.otf"),
)
# Ballpoint colours (BGR): blue inks and "black" inks that are really dark blue-grey.
BLUE_INKS = ((150, 60, 25), (170, 80, 40), (120, 45, 30), (160, 95, 55))
BLACK_INKS = ((55, 45, 40), (70, 60, 55), (45, 40, 50))


def symbols_for(value: int, boxes: int = 3, blank_leading: bool = False) -> list[str]:
    """The box symbols of ``value``: 62 -> ['X', '6', '2']; 0 -> ['X', 'X', '0'].

    With ``blank_leading`` the unused leading boxes are left empty ('') instead of crossed,
    as a hurried officer sometimes does.
    """
    digits = str(value)
    if value < 0 or len(digits) > boxes:
        raise ValueError(f"{value} does not fit in {boxes} boxes")
    pad = "" if blank_leading else "X"
    return [pad] * (boxes - len(digits)) + list(digits)


@lru_cache(maxsize=3)
def _mnist_by_digit(side: DigitSource) -> tuple[Image8, ...]:
    images, labels = training_digits() if side == "train_wide" else digit_samples(side)
    return tuple(images[labels == d] for d in range(10))


@lru_cache(maxsize=64)
def _font_glyph(font_index: int, digit: int) -> Image8:
    font = ImageFont.truetype(str(HANDWRITING_FONTS[font_index]), 64)
    im = Image.new("L", (96, 96), 0)
    ImageDraw.Draw(im).text((16, 4), str(digit), font=font, fill=255)
    return tight_crop(np.asarray(im))


def tight_crop(glyph: Image8) -> Image8:
    """The glyph cut to its ink (pixels above 40 of 255), as every drawn digit is placed."""
    ys, xs = np.nonzero(glyph > 40)
    if len(ys) == 0:
        return glyph
    return np.ascontiguousarray(glyph[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])


def digit_glyph(
    rng: np.random.Generator, digit: int, side: DigitSource, font_share: float
) -> tuple[Image8, str]:
    """A tightly cropped white-on-black glyph of ``digit`` (uint8), from MNIST or a font, and
    its hand, ``"<source>:<digit>:<index>"``: ``"eval:9:41"`` is the 42nd evaluation-side 9
    (stable: the split is fixed), ``"font:9:2"`` a 9 in ``HANDWRITING_FONTS[2]``. A benchmark
    can then tell a shape the classifier misreads wherever it is written from a bad photo."""
    if rng.random() < font_share:
        font = int(rng.integers(len(HANDWRITING_FONTS)))
        return _font_glyph(font, digit), f"font:{digit}:{font}"
    pool = _mnist_by_digit(side)[digit]
    k = int(rng.integers(len(pool)))
    return tight_crop(pool[k]), f"{side}:{digit}:{k}"


def hand_image(hand: str) -> Image8:
    """The glyph that ``digit_glyph`` named ``hand`` (white on black)."""
    source, digit, index = hand.split(":")
    if source == "font":
        return _font_glyph(int(index), int(digit))
    return tight_crop(_mnist_by_digit(cast(DigitSource, source))[int(digit)][int(index)])


def _pressure(rng: np.random.Generator, h: int, w: int) -> Mask:
    """A smooth ramp in 0.65..1: a ballpoint leaves less ink where the hand lightens."""
    angle = rng.uniform(0, 2 * np.pi)
    xs = np.arange(w, dtype=np.float32) * np.float32(np.cos(angle) / max(w, 1))
    ys = np.arange(h, dtype=np.float32) * np.float32(np.sin(angle) / max(h, 1))
    t = ys[:, None] + xs[None, :]
    t -= t.min()
    t /= max(float(t.max()), 1e-6)
    lo = rng.uniform(0.65, 0.9)
    ramp: Mask = (lo + (1.0 - lo) * t).astype(np.float32)
    return ramp


def glyph_mask(rng: np.random.Generator, glyph: Image8, box_h: int, box_w: int) -> Mask:
    """Scale, slant, thin and place ``glyph`` in a ``box_h`` x ``box_w`` ink mask."""
    gh, gw = glyph.shape
    target_h = box_h * rng.uniform(0.55, 0.8)
    scale = target_h / gh
    sx = scale * rng.uniform(0.8, 1.15)
    th, tw = max(2, round(gh * scale)), max(1, round(gw * sx))
    tw = min(tw, int(box_w * 0.85))
    g = cv2.resize(glyph, (tw, th), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0
    # MNIST strokes are ~12% of the glyph height, a ballpoint's ~6%: raise the threshold to thin.
    lo = rng.uniform(0.15, 0.45)
    g = np.clip((g - lo) / (1.0 - lo) * 1.6, 0.0, 1.0)
    shear = rng.uniform(-0.25, 0.2)
    cx = box_w / 2 + rng.normal(0, box_w * 0.05)
    cy = box_h / 2 + rng.normal(0, box_h * 0.05)
    angle = rng.normal(0, 0.06)
    c, s = np.cos(angle), np.sin(angle)
    # Map glyph centre to (cx, cy) with rotation and a horizontal shear (handwriting slant).
    a = np.array([[c, -s + shear], [s, c]], dtype=np.float64)
    centre = np.array([tw / 2, th / 2])
    t = np.array([cx, cy]) - a @ centre
    m = np.hstack([a, t[:, None]]).astype(np.float32)
    out = cv2.warpAffine(g, m, (box_w, box_h), flags=cv2.INTER_LINEAR)
    result: Mask = (out * _pressure(rng, box_h, box_w)).astype(np.float32)
    return result


X_BANK = 48  # pre-drawn X variants per box size; drawing one costs ~0.3 ms, picking ~0


@lru_cache(maxsize=32)
def _x_bank(h: int, w: int) -> tuple[Mask, ...]:
    # A fixed seed per size keeps the bank, and therefore every photo, reproducible.
    rng = np.random.default_rng([h, w, 7])
    return tuple(draw_x(rng, (h, w)) for _ in range(X_BANK))


def pick_x(rng: np.random.Generator, size: tuple[int, int]) -> Mask:
    """An X from the bank of ``size``: as varied as ``draw_x`` for the photo generator's use."""
    bank = _x_bank(*size)
    return bank[int(rng.integers(len(bank)))]


def draw_x(rng: np.random.Generator, size: tuple[int, int]) -> Mask:
    """An X as a pen draws it: two slightly bowed strokes with varied angle, length, width
    and pressure. ``size`` is (height, width) of the box in pixels."""
    h, w = size
    canvas = np.zeros((h, w), dtype=np.float32)
    unit = min(h, w)
    width = max(1, round(unit * rng.uniform(0.05, 0.1)))
    # Bounded (uniform) jitter: a hand varies, but an X never degenerates into a V.
    cx = w / 2 + rng.uniform(-0.06, 0.06) * w
    cy = h / 2 + rng.uniform(-0.06, 0.06) * h
    spread = rng.uniform(0.55, 0.85)  # how much of the box the X covers
    base = np.arctan2(h, w)
    for sign in (1.0, -1.0):
        ang = sign * base + rng.uniform(-0.2, 0.2)
        half = 0.5 * spread * np.hypot(w, h) * rng.uniform(0.8, 1.05)
        ux, uy = np.cos(ang), np.sin(ang)
        start = np.array([cx - ux * half, cy - uy * half])
        end = np.array([cx, cy]) + np.array([ux, uy]) * half * rng.uniform(0.8, 1.0)
        bow = rng.uniform(-0.08, 0.08) * unit
        normal = np.array([-uy, ux])
        p_lo, p_hi = rng.uniform(0.55, 0.8), rng.uniform(0.85, 1.0)
        n = 8
        pts = []
        for i in range(n + 1):
            t = i / n
            pts.append(start + (end - start) * t + normal * bow * 4 * t * (1 - t))
        for i in range(n):
            t = (i + 0.5) / n
            # Pressure peaks mid-stroke: the pen lands and lifts lightly.
            p = p_lo + (p_hi - p_lo) * np.sin(np.pi * t)
            a = (round(pts[i][0] * 16), round(pts[i][1] * 16))
            b = (round(pts[i + 1][0] * 16), round(pts[i + 1][1] * 16))
            seg = np.zeros_like(canvas)
            cv2.line(seg, a, b, float(p), width, cv2.LINE_AA, shift=4)
            np.maximum(canvas, seg, out=canvas)
    return canvas


@dataclass(frozen=True, slots=True)
class PenStyle:
    colour: tuple[int, int, int]  # BGR
    density: float  # 0.75..1: how much paper the ink hides
    font_share: float  # share of digits taken from the handwriting fonts


def pick_pen(rng: np.random.Generator, font_share: float = 0.2) -> PenStyle:
    inks = BLUE_INKS if rng.random() < 0.65 else BLACK_INKS
    base = np.array(inks[int(rng.integers(len(inks)))], dtype=np.float64)
    colour = np.clip(base + rng.normal(0, 8, 3), 0, 255).astype(int)
    return PenStyle(
        colour=(int(colour[0]), int(colour[1]), int(colour[2])),
        density=float(rng.uniform(0.75, 0.97)),
        font_share=font_share,
    )


def symbol_ink(
    rng: np.random.Generator,
    symbol: str,
    box_h: int,
    box_w: int,
    side: DigitSource,
    font_share: float,
) -> tuple[Mask | None, str]:
    """The ink of one box (a digit, an X, or None for an empty box) and the hand that wrote it
    (see ``digit_glyph``; "x" for an X, "" for an empty box)."""
    if symbol == "":
        return None, ""
    if symbol == "X":
        return pick_x(rng, (box_h, box_w)), "x"
    glyph, hand = digit_glyph(rng, int(symbol), side, font_share)
    return glyph_mask(rng, glyph, box_h, box_w), hand


def blend_ink(region: Image8, mask: Mask, colour: tuple[int, int, int], density: float) -> None:
    """In place: paper * (1 - a) + ink * a, the way ballpoint ink covers paper."""
    a = (mask * density)[:, :, None]
    ink = np.asarray(colour, dtype=np.float32)
    out = region.astype(np.float32) * (1.0 - a) + ink * a
    region[...] = out.astype(np.uint8)
