"""Decode a JPEG (EXIF orientation applied) and refuse photos nobody could read.

Only the luma plane is decoded: it holds the full-resolution detail (JPEG halves the chroma
planes anyway) and costs a third of a colour decode (19 ms instead of 67 ms for a 4000 px
photo). Photos at least DECODE_HALF_FROM px long are decoded at half size by the JPEG decoder
itself (DCT scaling), which still leaves > 5 px per page millimetre.
The quality checks run on a copy scaled to 1000 px on the long side, so their thresholds do not
depend on the phone's resolution.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

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
# Median brightness of the photo. The generator's "dark" bad photos measure 20-30 and its
# hardest legitimate ones (exposure 0.6 with a shadow) 55-60; 40 lies between.
MIN_MEDIAN_BRIGHTNESS = 40
# Variance of the Laplacian of the 1000 px copy. The generator's "blurred" bad photos measure
# < 40 and its typical/hard photos > 120; 60 lies between.
MIN_SHARPNESS = 60.0
DECODE_HALF_FROM = 3200
# A screen's light is bluer than paper's: on training-side photos the bright (paper) pixels' median
# blue/red ratio was 0.88-1.00 for photographed forms and 1.09-1.20 for photos of a screen showing
# one (the generator's "screen": a pixel grid, a blue cast and glare). Measured on an 1/8 colour
# decode (the JPEG decoder scales in the DCT: a few ms). See docs/ocr.md.
SCREEN_BLUE_RED = 1.04
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


@dataclass(frozen=True, slots=True)
class QualityReport:
    brightness: float
    sharpness: float
    reason: Reason | None


def _header(jpeg: bytes) -> tuple[int, int, int] | None:
    """(width, height, EXIF orientation) from the header alone, or None for a non-image."""
    try:
        with Image.open(io.BytesIO(jpeg)) as im:
            orientation = int(im.getexif().get(0x0112, 1))
            return im.width, im.height, orientation if orientation in _ORIENT else 1
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def decode(jpeg: bytes) -> Decoded | None:
    """The upright grey photo, or None when the bytes are not a decodable image."""
    head = _header(jpeg)
    if head is None:
        return None
    w, h, orientation = head
    half = max(w, h) >= DECODE_HALF_FROM
    flags = cv2.IMREAD_IGNORE_ORIENTATION | (
        cv2.IMREAD_REDUCED_GRAYSCALE_2 if half else cv2.IMREAD_GRAYSCALE
    )
    arr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), flags)
    if arr is None:
        return None
    turns, flip = _ORIENT[orientation]
    gray = np.asarray(arr, dtype=np.uint8)
    if flip:
        gray = gray[:, ::-1]
    if turns:
        gray = np.rot90(gray, turns)
    gray = np.ascontiguousarray(gray)
    if turns % 2:
        w, h = h, w
    return Decoded(gray, 0.5 if half else 1.0, w, h)


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
    small = cv2.resize(
        photo.gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA
    )
    return Preview(np.asarray(small, dtype=np.uint8), scale)


def check_quality(photo: Decoded, small_view: Preview) -> QualityReport:
    small = small_view.gray
    brightness = _median(small)
    sharpness = float(cv2.Laplacian(small, cv2.CV_32F).var())
    reason: Reason | None = None
    if (
        max(photo.width, photo.height) < MIN_LONG_SIDE
        or min(photo.width, photo.height) < MIN_SHORT_SIDE
    ):
        reason = TOO_SMALL
    elif brightness < MIN_MEDIAN_BRIGHTNESS:
        reason = TOO_DARK
    elif sharpness < MIN_SHARPNESS:
        reason = TOO_BLURRED
    return QualityReport(brightness, sharpness, reason)


def _median(gray: Gray) -> float:
    """np.median of a uint8 image, from its histogram: ~0.5 ms on the 1000 px preview, where
    np.median's partial sort took ~9 ms."""
    counts = np.cumsum(cv2.calcHist([gray], [0], None, [256], [0, 256]).ravel().astype(np.int64))
    n = int(counts[-1])
    lower = int(np.searchsorted(counts, (n - 1) // 2, side="right"))
    upper = int(np.searchsorted(counts, n // 2, side="right"))
    return (lower + upper) / 2


def blue_red_ratio(jpeg: bytes) -> float | None:
    """Median blue/red ratio of the photo's brightest 40% (the paper), from a 1/8 colour decode;
    None when the photo cannot be decoded in colour."""
    arr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_REDUCED_COLOR_8)
    if arr is None or arr.ndim != 3:
        return None
    img = arr.astype(np.float32)
    b, g, r = img[..., 0], img[..., 1], img[..., 2]
    lum = 0.114 * b + 0.587 * g + 0.299 * r
    bright = lum > np.percentile(lum, 60)
    if not bright.any():
        return None
    return float(np.median(b[bright] / np.maximum(r[bright], 1.0)))


def looks_like_screen(jpeg: bytes) -> bool:
    ratio = blue_red_ratio(jpeg)
    return ratio is not None and ratio >= SCREEN_BLUE_RED
