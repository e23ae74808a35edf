"""Decode a JPEG (EXIF orientation applied) and refuse photos nobody could read.

One JPEG decode gives both what the reader needs: the luma plane at full detail (JPEG halves
the chroma planes anyway) and the chroma planes as stored, straight from libjpeg-turbo's planar
YCbCr output (no colour conversion, no upsampling). The chroma only feeds the screen check's
tint, measured here so the photo's entropy-coded data is read once: a grey decode plus a 1/8
colour decode read it twice (a hard photo's decode and tint: 21 ms before, 15 now). Photos at
least DECODE_HALF_FROM px long are decoded at half size by the JPEG decoder itself (DCT
scaling), which still leaves > 5 px per page millimetre. Non-JPEG images (PNG) and JPEGs
libjpeg-turbo cannot give as planar YCbCr (CMYK, grey) are decoded in colour by OpenCV instead.
The quality checks run on a copy scaled to 1000 px on the long side, so their thresholds do not
depend on the phone's resolution.
"""

from __future__ import annotations

import io
import logging
import math
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from services.ocr.reader.reasons import TOO_BLURRED, TOO_DARK, TOO_SMALL, Reason

Gray = npt.NDArray[np.uint8]

CHECK_LONG_SIDE = 1000
# Below ~1000 px on the long side a box is < 27 px tall in the photo: digits blur into each other.
MIN_LONG_SIDE = 1000
MIN_SHORT_SIDE = 700
# Both thresholds are chosen by `python -m services.ocr.train.photo_checks --photos 1200`
# (training-side photos: 800 usable ones of every difficulty, 200 blurred, 200 dark): each is
# the geometric middle of the gap between the bad photos and the usable ones.
# Paper brightness: the 90th percentile of the preview's grey levels (the sheet, which fills
# most of a usable photo). Usable photos 129-255, dark ones 14-39. The median used before
# (threshold 40) measured the background as much as the sheet: on 480 other training-side
# photos a usable one with a dark background filling over half the frame scored 36, dark ones
# up to 30.
MIN_PAPER_BRIGHTNESS = 71
# Sharpness: the 99.9th percentile of |Laplacian| on the preview, how crisp the crispest edges
# (markers, QR code, print) are, however little of the frame they fill. Usable photos 60-255,
# blurred ones 8-41 (62-255 and 7-36, threshold 47, with the one-step INTER_AREA preview before
# `preview`'s halving and bilinear step). The variance of the Laplacian used before (threshold
# 60) grew with how much of the frame is detail: on the 480 photos usable ones measured 59-2,630
# and blurred ones 4-92 (a sharp PPWP page 2 with a few digits on a blurred background scored 59,
# a blurred PPWP page 1 scored 92).
MIN_SHARPNESS = 50
SHARPNESS_QUANTILE = 0.999
DECODE_HALF_FROM = 3200
# A screen's light is bluer than paper's: on training-side photos the bright (paper) pixels' median
# blue/red ratio was 0.88-1.00 for photographed forms and 1.09-1.20 for photos of a screen showing
# one (the generator's "screen": a pixel grid, a blue cast and glare). Measured on 8 x 8 pixel
# block means, what a 1/8 colour decode gave when the threshold was set (on 1,000 benchmark photos
# the two ways differ by at most 0.02). See docs/ocr.md.
SCREEN_BLUE_RED = 1.04
TINT_BLOCK = 8
JPEG_MAGIC = b"\xff\xd8\xff"
# EXIF orientation -> (np.rot90 quarter turns counter-clockwise, flip left-right first)
_ORIENT: dict[int, tuple[int, bool]] = {
    1: (0, False),
    2: (0, True),
    3: (2, False),
    4: (2, True),
    5: (1, True),
    6: (3, False),
    7: (3, True),
    8: (1, False),
}


@dataclass(frozen=True, slots=True)
class Decoded:
    gray: Gray  # luma, upright
    scale: float  # decoded pixels per original photo pixel (1 or 0.5)
    width: int  # of the original photo, upright
    height: int
    # Median blue/red ratio of the photo's brightest 40% (the paper); None if not measurable.
    blue_red: float | None


@dataclass(frozen=True, slots=True)
class QualityReport:
    brightness: int  # of the paper: the 90th percentile grey level
    sharpness: int  # of the crispest edges: the 99.9th percentile of |Laplacian|
    reason: Reason | None
    edges: Gray  # the preview's |Laplacian|, for the sheet's own check (`sheet_sharpness`)


def _header(jpeg: bytes) -> tuple[int, int, int] | None:
    """(width, height, EXIF orientation) from the header alone, or None for a non-image."""
    try:
        with Image.open(io.BytesIO(jpeg)) as im:
            orientation = int(im.getexif().get(0x0112, 1))
            return im.width, im.height, orientation if orientation in _ORIENT else 1
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def decode(jpeg: bytes) -> Decoded | None:
    """The upright grey photo and its tint, or None when the bytes are not a decodable image."""
    head = _header(jpeg)
    if head is None:
        return None
    w, h, orientation = head
    half = max(w, h) >= DECODE_HALF_FROM
    planes = _jpeg_planes(jpeg, half) if jpeg.startswith(JPEG_MAGIC) else None
    if planes is None:
        planes = _colour_planes(jpeg, half)
    if planes is None:
        return None
    luma, chroma = planes
    turns, flip = _ORIENT[orientation]
    gray = luma
    if flip:
        gray = gray[:, ::-1]
    if turns:
        gray = np.rot90(gray, turns)
    gray = np.ascontiguousarray(gray)
    if turns % 2:
        w, h = h, w
    tint = None if chroma is None else _blue_red(luma, *chroma)
    return Decoded(gray, 0.5 if half else 1.0, w, h, tint)


Planes = tuple[Gray, tuple[Gray, Gray] | None]  # luma, (Cb, Cr) as stored, before orientation


@lru_cache(maxsize=1)
def _turbojpeg() -> Any:
    """libjpeg-turbo's TurboJPEG API, or None (logged once) when the library is missing."""
    try:
        from turbojpeg import TurboJPEG

        return TurboJPEG()
    except (ImportError, OSError, RuntimeError) as exc:
        logging.getLogger(__name__).warning(
            "libturbojpeg unavailable (%s): photos are decoded in colour by OpenCV, ~2x slower; "
            "run scripts/install-system-deps.sh",
            exc,
        )
        return None


def _jpeg_planes(jpeg: bytes, half: bool) -> Planes | None:
    """Luma and chroma from one libjpeg-turbo decode to planar YCbCr; None when the library
    is missing or cannot give this JPEG as planar YCbCr (CMYK, grey) or decode it at all."""
    turbo = _turbojpeg()
    if turbo is None:
        return None
    try:
        with warnings.catch_warnings():
            # libjpeg's warnings (a truncated file, say) still leave a picture, as with OpenCV.
            warnings.simplefilter("ignore")
            width, height, _, _ = turbo.decode_header(jpeg)
            planes = turbo.decode_to_yuv_planes(jpeg, scaling_factor=(1, 2) if half else None)
    except (OSError, ValueError):
        return None
    if half:
        width, height = math.ceil(width / 2), math.ceil(height / 2)
    # Planes are padded to whole chroma samples: crop them to the picture.
    luma = np.asarray(planes[0], dtype=np.uint8)[:height, :width]
    if len(planes) < 3:
        return luma, None
    return luma, (np.asarray(planes[1], dtype=np.uint8), np.asarray(planes[2], dtype=np.uint8))


def _colour_planes(image: bytes, half: bool) -> Planes | None:
    flags = cv2.IMREAD_IGNORE_ORIENTATION | (
        cv2.IMREAD_REDUCED_COLOR_2 if half else cv2.IMREAD_COLOR
    )
    bgr = cv2.imdecode(np.frombuffer(image, np.uint8), flags)
    if bgr is None or bgr.ndim != 3:
        return None
    luma, cr, cb = cv2.split(cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb))
    return np.asarray(luma, np.uint8), (np.asarray(cb, np.uint8), np.asarray(cr, np.uint8))


def _blue_red(luma: Gray, cb: Gray, cr: Gray) -> float | None:
    """Median blue/red ratio of the brightest 40% of TINT_BLOCK-pixel block means (the paper
    of a photographed form). The chroma planes may be subsampled (2x2 in most phone JPEGs)."""
    h, w = luma.shape
    sy = max(1, round(h / cb.shape[0]))
    sx = max(1, round(w / cb.shape[1]))
    rows, cols = h // TINT_BLOCK, w // TINT_BLOCK
    if rows == 0 or cols == 0 or sy not in (1, 2, 4, 8) or sx not in (1, 2, 4, 8):
        return None

    def means(plane: Gray, fy: int, fx: int) -> npt.NDArray[np.float32]:
        """Block means of a plane subsampled (fy, fx) times, by halving (INTER_AREA's 2:1
        path: ~6x faster than one 8:1 step on a 3000 px photo, the same means to one level)."""
        block = plane[: rows * TINT_BLOCK // fy, : cols * TINT_BLOCK // fx]
        while block.shape != (rows, cols):
            half_size = (max(cols, block.shape[1] // 2), max(rows, block.shape[0] // 2))
            block = np.asarray(cv2.resize(block, half_size, interpolation=cv2.INTER_AREA))
        return np.asarray(block, np.float32)

    y = means(luma, 1, 1)
    blue = np.clip(y + 1.772 * (means(cb, sy, sx) - 128.0), 0.0, 255.0)
    red = np.clip(y + 1.402 * (means(cr, sy, sx) - 128.0), 0.0, 255.0)
    bright = y > np.percentile(y, 60)
    if not bright.any():
        return None
    return float(np.median(blue[bright] / np.maximum(red[bright], 1.0)))


@dataclass(frozen=True, slots=True)
class Preview:
    """The photo at CHECK_LONG_SIDE px: for the quality checks and the marker search."""

    gray: Gray
    scale: float  # preview pixels per decoded pixel


def preview(photo: Decoded) -> Preview:
    h, w = photo.gray.shape[:2]
    scale = min(1.0, CHECK_LONG_SIDE / max(h, w))
    if scale == 1.0:
        return Preview(photo.gray, 1.0)
    return Preview(downscale(photo.gray, (round(w * scale), round(h * scale))), scale)


def downscale(gray: Gray, size: tuple[int, int]) -> Gray:
    """`gray` shrunk to `size` (width, height): halved by area averaging while it is at least
    twice too large, then resampled bilinearly the rest of the way (a factor under 2, where a
    bilinear step's four taps still cover every source pixel). One INTER_AREA step at a factor
    that is not a whole number costs OpenCV 12-18 ms on a 2-8 MP photo, an eighth of a page's
    reading; this takes 1-3 ms (docs/ocr.md has what it changed)."""
    small = gray
    while small.shape[1] >= 2 * size[0] and small.shape[0] >= 2 * size[1]:
        # Even sides: OpenCV's exact 2:1 area path (~0.3 ms), not its general one. The odd row
        # or column left out moves the far edge by under a photo pixel, the size of the
        # rounding in `size` itself.
        even = small[: small.shape[0] // 2 * 2, : small.shape[1] // 2 * 2]
        half = (even.shape[1] // 2, even.shape[0] // 2)
        small = np.asarray(cv2.resize(even, half, interpolation=cv2.INTER_AREA), np.uint8)
    return np.asarray(cv2.resize(small, size, interpolation=cv2.INTER_LINEAR), np.uint8)


def check_quality(photo: Decoded, small_view: Preview) -> QualityReport:
    small = small_view.gray
    brightness = _quantile(small, 0.9)
    # |Laplacian|: an integer kernel on integer levels, so CV_16S is exact; above 255 counts as
    # 255, far sharper than any threshold.
    edges = np.asarray(cv2.convertScaleAbs(cv2.Laplacian(small, cv2.CV_16S)), np.uint8)
    sharpness = _quantile(edges, SHARPNESS_QUANTILE)
    reason: Reason | None = None
    if (
        max(photo.width, photo.height) < MIN_LONG_SIDE
        or min(photo.width, photo.height) < MIN_SHORT_SIDE
    ):
        reason = TOO_SMALL
    elif brightness < MIN_PAPER_BRIGHTNESS:
        reason = TOO_DARK
    elif sharpness < MIN_SHARPNESS:
        reason = TOO_BLURRED
    return QualityReport(brightness, sharpness, reason, edges)


def sheet_sharpness(quality: QualityReport, outline: npt.NDArray[np.float64]) -> int:
    """The sharpness of `check_quality`, measured inside the sheet's outline (its four corners
    in preview pixels) once the markers have found it. A sheet out of focus beside something
    sharp in the frame (a hand, a pen, the table's edge) passes the frame's check, not this
    one. The 944 usable photos of every second benchmark page measure 68 and more here and 60
    and more over the frame: leaving a blurred background out raises the share of the sheet's
    crispest edges."""
    mask = np.zeros(quality.edges.shape, np.uint8)
    cv2.fillPoly(mask, [np.round(outline).astype(np.int32)], 255)
    return _quantile(quality.edges, SHARPNESS_QUANTILE, mask)


def _quantile(gray: Gray, q: float, mask: Gray | None = None) -> int:
    """The smallest level with at least `q` of a uint8 image's pixels (those under `mask`) at
    or below it (np.percentile's "inverted_cdf"), from its histogram: ~0.5 ms on the 1000 px
    preview, where a partial sort takes ~9 ms. 0 when no pixel is counted."""
    hist = cv2.calcHist([gray], [0], mask, [256], [0, 256]).ravel()
    counts = np.cumsum(hist.astype(np.int64))
    return int(np.searchsorted(counts, q * counts[-1])) if counts[-1] > 0 else 0


def looks_like_screen(photo: Decoded) -> bool:
    return photo.blue_red is not None and photo.blue_red >= SCREEN_BLUE_RED
