"""Synthetic box crops: TRAINING-side digits written into one box and "photographed" cheaply.

A harvested crop costs a whole generated page photo (~0.3 s of CPU per ~70 boxes); a synthetic
one costs ~0.3 ms. They are drawn with the forms generator's own pen (`symbol_ink`,
`blend_ink`, `pick_pen`: the handwriting fonts, the X strokes and MNIST's digits, all of them
but the evaluation side's: `shared.forms.mnist_wide`, ~68,000 against the ~8,000 of the
harvested pages' training side) into a box
with the printed light-red border, then put through what a phone and the reader do to a box:
a small affine jitter (the refinement's residual offset, perspective left after the
homography), blur, uneven light, sensor noise, JPEG at photo scale and the reader's
downsampling to 32x40. They widen what the net sees of each training digit; the harvested crops
stay the anchor, and temperature and thresholds are fitted on harvested data only.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from services.ocr.reader.boxes import CROP_H, CROP_W
from services.ocr.reader.symbols import BLANK, X
from shared.forms.handwriting import (
    DigitSource,
    blend_ink,
    glyph_mask,
    hand_image,
    pick_pen,
    symbol_ink,
)
from shared.forms.render import BOX_RGB

RENDER_PPM = 8.0  # px/mm of the drawn box (the generator renders pages at 4-12)
BOX_W_MM, BOX_H_MM = 8.0, 10.0
CROP_W_MM, CROP_H_MM = 10.0, 12.0  # the reader's crop: the box and 1 mm around it
# The handwriting the synthetic digits are drawn from (`shared.forms.handwriting.DigitSource`).
DIGIT_SOURCE: DigitSource = "train_wide"
# Symbol mix: mostly digits (the scarce, hard classes); some X and blank keep them anchored.
X_SHARE, BLANK_SHARE = 0.08, 0.04


def synth_crop(
    rng: np.random.Generator, label: int, hand: str | None = None
) -> npt.NDArray[np.uint8]:
    """One grey CROP_H x CROP_W crop of class `label` (0-9, X, BLANK), its digit drawn from the
    training digits, or from `hand` (`handwriting.digit_glyph`): the benchmark's way to write
    one evaluation-side sample many times (`benchmarks.hand_errors`), never a training one."""
    ppm = RENDER_PPM
    cw, ch = round(CROP_W_MM * ppm), round(CROP_H_MM * ppm)
    bw, bh = round(BOX_W_MM * ppm), round(BOX_H_MM * ppm)
    x0, y0 = (cw - bw) // 2, (ch - bh) // 2
    paper = float(rng.uniform(215, 250))
    img = np.full((ch, cw, 3), paper, dtype=np.uint8)
    # The neighbour boxes' borders sit 1 mm left/right of this one: draw them too.
    line = max(1, round(0.25 * ppm))
    box_bgr = (BOX_RGB[2], BOX_RGB[1], BOX_RGB[0])
    for dx in (-bw - round(2 * ppm), 0, bw + round(2 * ppm)):
        cv2.rectangle(img, (x0 + dx, y0), (x0 + dx + bw - 1, y0 + bh - 1), box_bgr, line)
    symbol = "X" if label == X else "" if label == BLANK else str(label)
    pen = pick_pen(rng)
    if hand is None:
        mask, _ = symbol_ink(rng, symbol, bh, bw, DIGIT_SOURCE, pen.font_share)
    else:
        mask = glyph_mask(rng, hand_image(hand), bh, bw)
    if mask is not None:
        blend_ink(img[y0 : y0 + bh, x0 : x0 + bw], mask, pen.colour, pen.density)
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
    # Photo scale: 4-10 px/mm (phones at 1600-4000 px, the reader halves photos >= 3200 px).
    photo_ppm = float(rng.uniform(4.0, 10.0))
    pw, ph = round(CROP_W_MM * photo_ppm), round(CROP_H_MM * photo_ppm)
    s = photo_ppm / ppm
    ang = rng.normal(0, 0.04)
    shear = rng.normal(0, 0.04)
    sx = s * rng.uniform(0.94, 1.06)
    sy = s * rng.uniform(0.94, 1.06)
    # Residual offset after the field refinement: up to ~0.6 mm.
    off = rng.normal(0, 0.3, 2) * photo_ppm
    a = np.array(
        [[np.cos(ang) * sx, (-np.sin(ang) + shear) * sx], [np.sin(ang) * sy, np.cos(ang) * sy]]
    )
    centre_in = np.array([cw / 2, ch / 2])
    centre_out = np.array([pw / 2, ph / 2]) + off
    t = centre_out - a @ centre_in
    m = np.hstack([a, t[:, None]]).astype(np.float32)
    pre = cv2.GaussianBlur(gray, (0, 0), max(0.5 / s * 0.5, 0.3))
    photo = cv2.warpAffine(
        pre, m, (pw, ph), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    blur = float(rng.uniform(0.4, 2.0))  # lens and hand, photo pixels
    photo = cv2.GaussianBlur(photo, (0, 0), blur)
    # Light: an exposure gain and a linear gradient across the crop (a shadow edge, a lamp).
    gy, gx = np.mgrid[0:ph, 0:pw].astype(np.float32)
    g = rng.normal(0, 0.08, 2)
    light = rng.uniform(0.6, 1.05) * (1 + g[0] * (gx / pw - 0.5) + g[1] * (gy / ph - 0.5))
    photo = photo * light + rng.normal(0, rng.uniform(2, 10), photo.shape)
    photo8 = np.clip(photo, 0, 255).astype(np.uint8)
    quality = int(rng.integers(60, 92))
    ok, enc = cv2.imencode(".jpg", photo8, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if ok:
        photo8 = cv2.imdecode(enc, cv2.IMREAD_GRAYSCALE)
    # The reader samples at ~6.5 px/mm, then warps linearly to 3.2 px/mm.
    if photo_ppm > 6.5:
        mid = (round(CROP_W_MM * 6.5), round(CROP_H_MM * 6.5))
        photo8 = cv2.resize(photo8, mid, interpolation=cv2.INTER_AREA)
    out = cv2.resize(photo8, (CROP_W, CROP_H), interpolation=cv2.INTER_LINEAR)
    return np.asarray(out, dtype=np.uint8)


def synth_crops(n: int, seed: int) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """`n` synthetic crops and their labels."""
    rng = np.random.default_rng([seed, 4242])
    r = rng.random(n)
    labels = np.where(
        r < X_SHARE, X, np.where(r < X_SHARE + BLANK_SHARE, BLANK, rng.integers(0, 10, n))
    ).astype(np.int64)
    crops = np.stack([synth_crop(rng, int(lab)) for lab in labels])
    return crops, labels
