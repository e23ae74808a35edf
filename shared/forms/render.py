"""Draw a blank C.Hasil page from its layout, as a BGR uint8 image at ``px_per_mm``.

Text goes through Pillow (TrueType fonts); markers, the QR code and the boxes through OpenCV.
A blank page is the same for every photo of a (contest, TPS, page), so it is cached and returned
read-only; callers copy it before writing ink (``np.array(render_blank(...))``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import cast

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from shared.contests import Contest, definition
from shared.forms.identity import MARKER_DICT
from shared.forms.layout import Layout, Rect, TextPlacement, canonical_size, layout, rect_px

Image8 = npt.NDArray[np.uint8]

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = {
    "regular": FONT_DIR / "DejaVuSans.ttf",
    "bold": FONT_DIR / "DejaVuSans-Bold.ttf",
    "mono": FONT_DIR / "DejaVuSansMono-Bold.ttf",
}
CAP_HEIGHT_EM = 0.73  # DejaVu's cap height as a fraction of the em: size_mm is cap height
PRINT_RGB = (25, 25, 25)
LABEL_EN_RGB = (95, 95, 95)
# Dropout colour: a light red whose red channel is near paper white, so the reader can drop the
# box borders by looking at the red channel while blue and black ink stay dark there.
BOX_RGB = (236, 150, 150)
RULE_RGB = (215, 215, 215)
DEFAULT_PX_PER_MM = 8.0  # ~203 dpi: print resolution for `sirekap forms blank`


@lru_cache(maxsize=64)
def _font(style: str, px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONTS[style]), px)


def _fit(text: str, font: ImageFont.FreeTypeFont, width_px: float) -> str:
    if font.getlength(text) <= width_px:
        return text
    while text and font.getlength(text + "…") > width_px:
        text = text[:-1]
    return text + "…"


def _text(draw: ImageDraw.ImageDraw, t: TextPlacement, ppm: float, rgb: tuple[int, ...]) -> None:
    px = max(6, round(t.size_mm * ppm / CAP_HEIGHT_EM))
    font = _font(t.style, px)
    x, y = t.rect.x * ppm, t.rect.y * ppm
    draw.text((x, y), _fit(t.text, font, t.rect.w * ppm), font=font, fill=rgb)


def _paste_binary(img: Image8, rect: Rect, ppm: float, pattern: Image8) -> None:
    x0, y0, x1, y1 = rect_px(rect, ppm)
    scaled = cv2.resize(pattern, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
    img[y0:y1, x0:x1] = scaled[:, :, None]


@lru_cache(maxsize=512)
def _marker_pattern(marker_id: int) -> Image8:
    d = cv2.aruco.getPredefinedDictionary(MARKER_DICT)
    return cast(Image8, cv2.aruco.generateImageMarker(d, marker_id, 8 * 16, borderBits=1))


def _qr_pattern(payload: str) -> Image8:
    return cast(Image8, cv2.QRCodeEncoder.create().encode(payload))  # with its quiet zone


def _draw_static(lay: Layout, ppm: float) -> Image8:
    """Everything but the identity line and the QR code: the same for every TPS of a dapil."""
    w, h = canonical_size(ppm)
    pil = Image.new("RGB", (w, h), (255, 255, 255))
    draw = ImageDraw.Draw(pil)
    line = max(1, round(0.25 * ppm))
    for t in lay.texts:
        _text(draw, t, ppm, PRINT_RGB)
    for f in lay.fields:
        lab = f.label
        label_id = TextPlacement(f.label_id, Rect(lab.x, lab.y + 2.4, lab.w, 3), 2.4)
        label_en = TextPlacement(f.label_en, Rect(lab.x, lab.y + 7.0, lab.w, 3), 1.8)
        _text(draw, label_id, ppm, PRINT_RGB)
        _text(draw, label_en, ppm, LABEL_EN_RGB)
        y = (lab.y + lab.h) * ppm
        x1 = (f.boxes[-1].x + f.boxes[-1].w) * ppm
        draw.line([(lab.x * ppm, y), (x1, y)], fill=RULE_RGB, width=max(1, line // 2))
        for b in f.boxes:
            bx0, by0, bx1, by1 = rect_px(b, ppm)
            draw.rectangle([bx0, by0, bx1 - 1, by1 - 1], outline=BOX_RGB, width=line)
    img: Image8 = np.ascontiguousarray(np.asarray(pil)[:, :, ::-1])
    for m in lay.markers:
        _paste_binary(img, m.rect, ppm, _marker_pattern(m.id))
    return img


def _stamp_identity(img: Image8, lay: Layout, ppm: float) -> None:
    """In place: the TPS-specific identity line and QR code (~1 ms, so never cached)."""
    x0, y0, x1, y1 = rect_px(lay.identity.rect, ppm)
    pad = round(1 * ppm)  # descenders reach below the rectangle; the dapil line starts 1 mm lower
    strip = Image.new("RGB", (x1 - x0, y1 - y0 + pad), (255, 255, 255))
    shifted = replace(lay.identity, rect=replace(lay.identity.rect, x=0.0, y=0.0))
    _text(ImageDraw.Draw(strip), shifted, ppm, PRINT_RGB)
    img[y0 : y1 + pad, x0:x1] = np.asarray(strip)[:, :, ::-1]
    _paste_binary(img, lay.qr, ppm, _qr_pattern(lay.qr_payload))


def draw_page(lay: Layout, px_per_mm: float) -> Image8:
    """Render ``lay`` to a new BGR image (uncached)."""
    img = _draw_static(lay, px_per_mm)
    _stamp_identity(img, lay, px_per_mm)
    return img


# The static layer depends on (contest, dapil, page, scale) only, so generating photos for
# thousands of TPS re-renders nothing but the identity stamp. Entries are 3-27 MB (4-12 px/mm).
_STATIC: OrderedDict[tuple[str, str, int, float], Image8] = OrderedDict()
_STATIC_MAX = 32  # at 6 px/mm (typical photos) a page is 6.7 MB: ~0.2 GB in all
_STATIC_LOCK = threading.Lock()


def _static_page(lay: Layout, dapil: str, ppm: float) -> Image8:
    key = (lay.contest.value, dapil, lay.page, ppm)
    with _STATIC_LOCK:
        img = _STATIC.get(key)
        if img is not None:
            _STATIC.move_to_end(key)
            return img
    img = _draw_static(lay, ppm)  # outside the lock: two threads may both draw; same result
    img.setflags(write=False)
    with _STATIC_LOCK:
        _STATIC[key] = img
        while len(_STATIC) > _STATIC_MAX:
            _STATIC.popitem(last=False)
    return img


@lru_cache(maxsize=32)
def render_blank(
    contest: Contest | str, tps_code: str, page: int, px_per_mm: float = DEFAULT_PX_PER_MM
) -> Image8:
    """The blank page (BGR uint8, read-only, cached)."""
    lay = layout(contest, tps_code, page)
    img = np.array(_static_page(lay, definition(lay.contest, tps_code).dapil, px_per_mm))
    _stamp_identity(img, lay, px_per_mm)
    img.setflags(write=False)
    return img


def write_blank(
    contest: Contest | str, tps_code: str, out: Path, px_per_mm: float = DEFAULT_PX_PER_MM
) -> list[Path]:
    """Write every page: one multi-page PDF for ``*.pdf``, else one image per page.

    Image outputs get ``-p<page>`` before the suffix when the form has more than one page.
    """
    pages = definition(Contest(contest), tps_code).pages
    images = [
        Image.fromarray(render_blank(contest, tps_code, p, px_per_mm)[:, :, ::-1])
        for p in range(1, pages + 1)
    ]
    dpi = px_per_mm * 25.4
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".pdf":
        images[0].save(out, save_all=True, append_images=images[1:], resolution=dpi)
        return [out]
    paths = []
    for p, im in enumerate(images, start=1):
        path = out if pages == 1 else out.with_name(f"{out.stem}-p{p}{out.suffix}")
        im.save(path, dpi=(dpi, dpi))
        paths.append(path)
    return paths
