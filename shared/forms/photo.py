"""A phone's photo of a printed page: perspective, rotation, curl, light, blur, noise, JPEG.

Every random choice comes from the ``rng`` passed in, so a seed gives the same bytes. For speed
(the benchmarks need >= 20 photos/s on one core) the geometry is one ``cv2.remap`` whose maps
are computed on a coarse grid and upsampled, lighting is one saturating multiply by a gain
field drawn at 1/64 of the size, and sensor noise is a slice of a precomputed noise bank added
with ``cv2.addWeighted``; no full-resolution float arrays are built.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, cast

import cv2
import numpy as np
import numpy.typing as npt

Image8 = npt.NDArray[np.uint8]
Map = npt.NDArray[np.float32]
Range = tuple[float, float]

PAGE_ASPECT = 210.0 / 297.0
FRAME_ASPECT = 3.0 / 4.0  # phone sensors are 4:3
NOISE_BANK_STD = 20.0
NOISE_BANK_LEN = 1 << 25  # 32 MB: one 4000x2800 colour frame without tiling
GRID = 24  # coarse remap grid step in output pixels; curl is smooth at this scale


@dataclass(frozen=True)
class Preset:
    """Parameter ranges of one difficulty; each photo draws uniformly within them."""

    name: str
    long_side: Range  # output long side, px
    fill: Range  # page long side / frame long side
    perspective: Range  # corner displacement, fraction of the page's short side
    rotations: tuple[tuple[int, float], ...]  # (quarter turns, probability)
    tilt_deg: Range  # small in-plane rotation, +- degrees
    curl_mm: Range  # bulge of a curled sheet, mm
    light: Range  # strength of the directional light gradient (0 = flat)
    shadow_p: float  # probability of a soft shadow across the page
    shadow: Range  # darkening inside the shadow
    exposure: Range  # overall brightness gain
    blur: Range  # Gaussian sigma in output pixels
    noise: Range  # sensor noise std, grey levels
    jpeg: tuple[int, int]  # JPEG quality range
    # Geometry and light are computed at this fraction of the output size, then upsampled:
    # the upsampling softens like ~0.4/work_scale px of blur, which the blur range includes.
    work_scale: float = 1.0


PRESETS: dict[str, Preset] = {
    "clean": Preset(
        name="clean",
        long_side=(2000, 2400),
        fill=(0.86, 0.93),
        perspective=(0.0, 0.02),
        rotations=((0, 1.0),),
        tilt_deg=(0, 2),
        curl_mm=(0, 0),
        light=(0.0, 0.1),
        shadow_p=0.0,
        shadow=(0, 0),
        exposure=(0.95, 1.05),
        blur=(0.0, 0.6),
        noise=(1, 3),
        jpeg=(90, 95),
        work_scale=1.0,
    ),
    "typical": Preset(
        name="typical",
        long_side=(1600, 2200),  # phones upload ~2000 px JPEGs (domain.md)
        fill=(0.75, 0.93),
        perspective=(0.0, 0.06),
        rotations=((0, 0.7), (1, 0.1), (2, 0.1), (3, 0.1)),
        tilt_deg=(0, 8),
        curl_mm=(0, 4),
        light=(0.1, 0.35),
        shadow_p=0.4,
        shadow=(0.1, 0.35),
        exposure=(0.8, 1.05),
        blur=(0.6, 1.4),
        noise=(2, 6),
        jpeg=(75, 90),
        work_scale=0.7,
    ),
    "hard": Preset(
        name="hard",
        long_side=(2500, 4000),
        fill=(0.62, 0.9),
        perspective=(0.04, 0.12),
        rotations=((0, 0.25), (1, 0.25), (2, 0.25), (3, 0.25)),
        tilt_deg=(0, 15),
        curl_mm=(2, 8),
        light=(0.25, 0.5),
        shadow_p=0.7,
        shadow=(0.2, 0.5),
        exposure=(0.6, 1.1),
        blur=(1.0, 2.2),
        noise=(4, 10),
        jpeg=(60, 80),
        work_scale=0.6,
    ),
}

BAD_KINDS = ("blurred", "dark", "corner_cut", "wrong_page", "other_tps", "screen")


@dataclass(frozen=True)
class Shot:
    """The drawn parameters of one photo (recorded in the ground truth)."""

    width: int
    height: int
    quarter_turns: int
    corners: npt.NDArray[np.float64]  # page TL, TR, BR, BL in photo pixels, before curl
    curl_px: float
    light: float
    shadow: float
    exposure: float
    blur: float
    noise: float
    jpeg: int
    work_scale: float = 1.0
    bad: str | None = None
    cut_corner: int = -1  # page corner (0..3) missing from the photo, for bad="corner_cut"

    @property
    def work_size(self) -> tuple[int, int]:
        return round(self.width * self.work_scale), round(self.height * self.work_scale)

    def describe(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "height": self.height,
            "rotation_ccw_deg": 90 * self.quarter_turns,
            "page_corners_px": np.round(self.corners, 1).tolist(),
            "curl_px": round(self.curl_px, 2),
            "light": round(self.light, 3),
            "shadow": round(self.shadow, 3),
            "exposure": round(self.exposure, 3),
            "blur_sigma": round(self.blur, 3),
            "noise_std": round(self.noise, 3),
            "jpeg_quality": self.jpeg,
            "work_scale": self.work_scale,
        }


def _u(rng: np.random.Generator, r: Range) -> float:
    return float(rng.uniform(r[0], r[1])) if r[1] > r[0] else float(r[0])


def _fit_in_frame(quad: npt.NDArray[np.float64], w: int, h: int) -> npt.NDArray[np.float64]:
    """Shrink and shift ``quad`` so the whole sheet stays in frame with a 2% margin: tilt and
    perspective must not cut a corner off unless a ``corner_cut`` photo asks for it."""
    m = 0.02 * max(w, h)
    lo, hi = quad.min(axis=0), quad.max(axis=0)
    span = hi - lo
    s = min(1.0, (w - 2 * m) / span[0], (h - 2 * m) / span[1])
    centre = quad.mean(axis=0)
    quad = centre + (quad - centre) * s
    lo, hi = quad.min(axis=0), quad.max(axis=0)
    shift = np.maximum(0.0, m - lo) - np.maximum(0.0, hi - (np.array([w, h]) - m))
    out: npt.NDArray[np.float64] = quad + shift
    return out


def plan_shot(rng: np.random.Generator, preset: Preset, bad: str | None = None) -> Shot:
    """Draw frame size, page placement and optics for one photo."""
    turns_p = np.array([p for _, p in preset.rotations])
    turns = preset.rotations[int(rng.choice(len(turns_p), p=turns_p / turns_p.sum()))][0]
    long_side = round(_u(rng, preset.long_side))
    short_side = round(long_side * FRAME_ASPECT)
    # The officer turns the phone with the sheet, so the page's long side follows the frame's.
    w, h = (short_side, long_side) if turns % 2 == 0 else (long_side, short_side)
    page_long = _u(rng, preset.fill) * long_side
    page_short = page_long * PAGE_ASPECT
    pw, ph = (page_short, page_long) if turns % 2 == 0 else (page_long, page_short)
    cx = w / 2 + rng.uniform(-1, 1) * max(0.0, (w - pw) / 2) * 0.8
    cy = h / 2 + rng.uniform(-1, 1) * max(0.0, (h - ph) / 2) * 0.8
    rect = np.array(
        [
            [cx - pw / 2, cy - ph / 2],
            [cx + pw / 2, cy - ph / 2],
            [cx + pw / 2, cy + ph / 2],
            [cx - pw / 2, cy + ph / 2],
        ]
    )
    rect += rng.uniform(-1, 1, (4, 2)) * _u(rng, preset.perspective) * page_short
    tilt = np.deg2rad(rng.uniform(-1, 1) * preset.tilt_deg[1])
    rot = np.array([[np.cos(tilt), -np.sin(tilt)], [np.sin(tilt), np.cos(tilt)]])
    rect = (rect - [cx, cy]) @ rot.T + [cx, cy]
    # Page corner i lands on frame-space corner (i + turns) % 4 of the rectangle: each turn
    # rotates the sheet 90 degrees counter-clockwise in the photo.
    corners = _fit_in_frame(np.roll(rect, turns, axis=0), w, h)
    exposure = _u(rng, preset.exposure)
    blur = _u(rng, preset.blur)
    noise = _u(rng, preset.noise)
    cut = -1
    if bad == "corner_cut":
        cut = int(rng.integers(4))
    elif bad == "blurred":
        blur = float(rng.uniform(6.0, 10.0))
    elif bad == "dark":
        exposure, noise = float(rng.uniform(0.06, 0.14)), noise + 4
    return Shot(
        width=w,
        height=h,
        quarter_turns=turns,
        corners=corners,
        curl_px=_u(rng, preset.curl_mm) * page_long / 297.0,
        light=_u(rng, preset.light),
        shadow=_u(rng, preset.shadow) if rng.random() < preset.shadow_p else 0.0,
        exposure=exposure,
        blur=blur,
        noise=noise,
        jpeg=int(rng.integers(preset.jpeg[0], preset.jpeg[1] + 1)),
        work_scale=preset.work_scale,
        bad=bad,
        cut_corner=cut,
    )


def source_scale(shot: Shot, scales: tuple[float, ...]) -> float:
    """The smallest render scale (px/mm) that does not need upsampling by more than 1.15x."""
    c = shot.corners * shot.work_scale  # page order: TL-BL and TR-BR are the 297 mm edges
    side = max(np.linalg.norm(c[0] - c[3]), np.linalg.norm(c[1] - c[2]))
    need = side / 297.0 / 1.15
    return next((s for s in scales if s >= need), scales[-1])


def _page_roi(shot: Shot) -> tuple[int, int, int, int]:
    """The working-size box (x0, y0, x1, y1) the sheet can cover, curl included: only these
    pixels need the remap (the sheet covers ~60% of a typical frame)."""
    w, h = shot.work_size
    q = shot.corners * shot.work_scale
    m = shot.curl_px * shot.work_scale * 1.5 + 3
    x0, y0 = np.floor(q.min(axis=0) - m).astype(int)
    x1, y1 = np.ceil(q.max(axis=0) + m).astype(int)
    roi = max(0, int(x0)), max(0, int(y0)), min(w, int(x1)), min(h, int(y1))
    return roi if roi[2] > roi[0] + 1 and roi[3] > roi[1] + 1 else (0, 0, w, h)


def _remap_maps(
    shot: Shot, src_w: int, src_h: int, rng: np.random.Generator, roi: tuple[int, int, int, int]
) -> tuple[Map, Map]:
    """For each working-size pixel of ``roi``, the source page pixel it shows.

    The mapping is evaluated on a coarse grid placed where ``cv2.resize`` puts its samples
    (grid point j at pixel (j + 0.5) * W / n - 0.5), so a bilinear resize of the grid is the
    full-size map with no cropping.
    """
    x0, y0, x1, y1 = roi
    w, h = x1 - x0, y1 - y0
    src = np.array([[0, 0], [src_w, 0], [src_w, src_h], [0, src_h]], dtype=np.float32)
    inv = cv2.getPerspectiveTransform((shot.corners * shot.work_scale).astype(np.float32), src)
    gw, gh = max(2, w // GRID), max(2, h // GRID)
    xs = (x0 + (np.arange(gw) + 0.5) * w / gw - 0.5).astype(np.float32)
    ys = (y0 + (np.arange(gh) + 0.5) * h / gh - 0.5).astype(np.float32)
    gx, gy = np.meshgrid(xs, ys)
    grid = np.stack([gx, gy], -1).reshape(-1, 1, 2)
    pts = cv2.perspectiveTransform(grid, inv).reshape(gh, gw, 2)
    u, v = pts[..., 0], pts[..., 1]
    if shot.curl_px > 0:
        # A sheet curling up at one edge: the print shifts towards that edge, growing
        # quadratically; a gentle sideways bow adds the sag of a hand-held sheet.
        page_h = max(float(np.linalg.norm(shot.corners[0] - shot.corners[3])), 1.0)
        amp = shot.curl_px * src_h / page_h
        edge = rng.uniform(-1, 1)
        tn = np.clip(v / src_h, 0, 1)
        sn = np.clip(u / src_w, 0, 1)
        v = v + amp * (edge * (tn - 0.5) ** 2 * 4 + 0.5 * np.sin(np.pi * sn))
        u = u + amp * 0.5 * np.sin(np.pi * tn) * rng.uniform(-1, 1)
    mx = cv2.resize(u.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    my = cv2.resize(v.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    return cast(Map, mx), cast(Map, my)


def _background(rng: np.random.Generator, w: int, h: int) -> Image8:
    """A table or board behind the sheet: a smooth blotchy colour field."""
    base = rng.uniform(40, 170, 3)
    small = np.clip(base + rng.normal(0, 18, (6, 8, 3)), 0, 255).astype(np.uint8)
    return cast(Image8, cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR))


def _gain(rng: np.random.Generator, shot: Shot, w: int, h: int) -> Image8:
    """Light falling on the scene as a uint8 gain image (128 = 1.0), computed small."""
    gh, gw = max(4, h // 64), max(4, w // 64)
    yy, xx = np.mgrid[0:gh, 0:gw].astype(np.float32)
    xx, yy = xx / (gw - 1) - 0.5, yy / (gh - 1) - 0.5
    ang = rng.uniform(0, 2 * np.pi)
    g = 1.0 + shot.light * (np.cos(ang) * xx + np.sin(ang) * yy) * 2
    g -= 0.25 * shot.light * (xx**2 + yy**2) * 4  # vignetting
    if shot.shadow > 0:
        # A hand or phone shadow: a soft half-plane across part of the page.
        sa = rng.uniform(0, 2 * np.pi)
        d = np.cos(sa) * xx + np.sin(sa) * yy - rng.uniform(0.0, 0.35)
        g *= 1.0 - shot.shadow * (1 / (1 + np.exp(-d * 25)))
    g *= shot.exposure
    warm = np.array([rng.uniform(0.88, 1.0), rng.uniform(0.95, 1.0), 1.0])  # BGR: indoor light
    g3 = np.clip(g[..., None] * warm * 128.0, 0, 255).astype(np.uint8)
    out: Image8 = cv2.resize(g3, (w, h), interpolation=cv2.INTER_LINEAR)
    return out


@lru_cache(maxsize=1)
def _noise_bank() -> Image8:
    # Fixed seed: the bank is part of the generator, so photos stay reproducible.
    rng = np.random.default_rng(20240214)
    out: Image8 = np.empty(NOISE_BANK_LEN, dtype=np.uint8)
    step = 1 << 22  # in chunks: one float array of the whole bank would take 128 MB
    for i in range(0, NOISE_BANK_LEN, step):
        chunk = rng.standard_normal(step, dtype=np.float32) * NOISE_BANK_STD + 128.0
        out[i : i + step] = np.clip(chunk, 0, 255).astype(np.uint8)
    return out


def _add_noise(img: Image8, std: float, rng: np.random.Generator) -> Image8:
    n = img.size
    bank = _noise_bank()
    if n > bank.size:
        noise = np.resize(bank, n)
    else:
        start = int(rng.integers(0, bank.size - n + 1))
        noise = bank[start : start + n]
    s = std / NOISE_BANK_STD
    return cast(Image8, cv2.addWeighted(img, 1.0, noise.reshape(img.shape), s, -128.0 * s))


def _screen(img: Image8, rng: np.random.Generator) -> Image8:
    """A photo of a screen showing the form: pixel grid moire, blue cast and glare."""
    h, w = img.shape[:2]
    period = rng.uniform(2.5, 4.5)
    ang = rng.uniform(-0.2, 0.2)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = np.float32(2 * np.pi / period)
    grid = (
        np.cos(a * (np.cos(ang) * xx + np.sin(ang) * yy))
        * np.cos(a * (np.cos(ang) * yy - np.sin(ang) * xx))
    ).astype(np.float32)
    pattern = 0.78 + 0.22 * grid
    tint = np.array([1.08, 0.98, 0.85], dtype=np.float32)
    cy, cx = rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w
    r2 = ((xx - cx) ** 2 + (yy - cy) ** 2) / (0.05 * w * h)
    glare = 140.0 * np.exp(-r2)
    out = img.astype(np.float32) * pattern[..., None] * tint + glare[..., None]
    result: Image8 = np.clip(out, 0, 255).astype(np.uint8)
    return result


def _cut_corner(img: Image8, bg: Image8, shot: Shot) -> None:
    """Remove a page corner (folded under, or outside the frame) with its marker.

    The cut runs from 35% along one edge to 35% along the other: markers end 24 mm from the
    corner, i.e. at most 11% along an edge, so the marker is always entirely gone."""
    q = shot.corners * shot.work_scale
    frame_k = (shot.cut_corner + shot.quarter_turns) % 4  # where that page corner landed
    p, a, b = q[frame_k], q[(frame_k + 1) % 4], q[(frame_k + 3) % 4]
    tri = np.array([p + (p - a) * 0.5 + (p - b) * 0.5, a + (p - a) * 0.65, b + (p - b) * 0.65])
    # The first vertex lies beyond the corner, so curl cannot leave a sliver of marker.
    mask = np.zeros(img.shape[:2], dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(tri).astype(np.int32)], 1)
    np.copyto(img, bg, where=mask[..., None].astype(bool))


def photograph(page: Image8, shot: Shot, rng: np.random.Generator) -> Image8:
    """Turn a flat BGR page image into the pixels a phone would record."""
    src_h, src_w = page.shape[:2]
    w, h = shot.work_size
    roi = _page_roi(shot)
    x0, y0, x1, y1 = roi
    mx, my = _remap_maps(shot, src_w, src_h, rng, roi)
    bg = _background(rng, w, h)
    img = bg.copy()
    window = np.ascontiguousarray(img[y0:y1, x0:x1])
    cv2.remap(page, mx, my, cv2.INTER_LINEAR, dst=window, borderMode=cv2.BORDER_TRANSPARENT)
    img[y0:y1, x0:x1] = window
    if shot.cut_corner >= 0:
        _cut_corner(img, bg, shot)
    img = cast(Image8, cv2.multiply(img, _gain(rng, shot, w, h), scale=1.0 / 128.0))
    # Optical blur at working size; the upsampling below adds ~0.4 px / work_scale of its own.
    upsample_blur = 0.4 / shot.work_scale if shot.work_scale < 1 else 0.0
    sigma = np.sqrt(max(shot.blur**2 - upsample_blur**2, 0.0)) * shot.work_scale
    if sigma > 0.3:
        # OpenCV's automatic kernel is 6 sigma wide; 3x3/5x5 keep >95% of the weight for
        # sigma <= 1.5 at half the cost.
        k = 3 if sigma < 0.9 else 5 if sigma <= 1.5 else 0
        img = cast(Image8, cv2.GaussianBlur(img, (k, k), sigma))
    if (w, h) != (shot.width, shot.height):
        img = cast(
            Image8, cv2.resize(img, (shot.width, shot.height), interpolation=cv2.INTER_LINEAR)
        )
    if shot.bad == "screen":
        img = _screen(img, rng)
    return _add_noise(img, shot.noise, rng)


def encode_jpeg(img: Image8, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def with_overrides(preset: Preset, **changes: Any) -> Preset:
    return replace(preset, **changes)
