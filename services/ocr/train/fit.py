"""Fit the box classifier on harvested crops: augmentation, training, temperature scaling."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

from services.ocr.reader.boxes import ink_batch
from services.ocr.train.net import BoxNet


def ink_images(crops: npt.NDArray[np.uint8]) -> torch.Tensor:
    """[N, 1, 40, 32] float ink, exactly as `read_page` normalises a crop."""
    return torch.from_numpy(ink_batch(crops))


# Elastic distortion (Simard et al. 2003): a smooth random displacement of every pixel, the
# wobble of one hand writing the same digit twice, which no affine map draws. Control points
# every ~10 px, ~1.2 px standard deviation (near Simard's alpha 34, sigma 4 on 28 px MNIST),
# on 3 crops of 4: the training side has ~8,000 distinct digits, and this is the augmentation
# that carries a small MNIST net from ~99.3% to ~99.6% on the digits it never saw.
ELASTIC_GRID = (5, 4)  # control points (rows, columns) over the 40 x 32 crop
ELASTIC_PX = 1.2
ELASTIC_SHARE = 0.75


def elastic_field(n: int, gen: torch.Generator) -> torch.Tensor:
    """[n, 40, 32, 2] displacements in `grid_sample`'s normalised units (x first), zero on the
    crops left undistorted."""
    points = torch.randn(n, 2, *ELASTIC_GRID, generator=gen) * ELASTIC_PX
    field = F.interpolate(points, size=(40, 32), mode="bicubic", align_corners=True)
    on = (torch.rand(n, generator=gen) < ELASTIC_SHARE).float()[:, None, None, None]
    pixel = torch.tensor([2.0 / 32.0, 2.0 / 40.0])  # one pixel in normalised units (x, y)
    return field.permute(0, 2, 3, 1) * pixel * on


# Glare lightens a whole region of a photo, digits and box borders alike (hard benchmark photos
# 2 and 491): a share of the crops is trained that faint.
FAINT_SHARE = 0.15


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """The variation a photo adds, drawn again per crop so each epoch sees new versions.

    Geometry: one random affine per crop (shift +-2.5 px, scale +-12%, width +-10%, rotation,
    slant), for the field refinement's offsets, the perspective left after the homography and
    the writer's own size and slant, and an elastic wobble (`elastic_field`). Then blur,
    thicker/thinner strokes, faint box-border remnants at the crop's edges, ink gain and noise.
    """
    n = x.shape[0]
    u = torch.rand(n, 8, generator=gen)
    scale = 0.88 + 0.24 * u[:, 0]
    aspect = 0.9 + 0.2 * u[:, 1]
    angle = (u[:, 2] - 0.5) * 0.16  # +-4.6 degrees
    shear = (u[:, 3] - 0.5) * 0.3
    # Normalised coordinates: the crop spans 2 units, so one pixel is 2/32 wide and 2/40 high.
    tx = (u[:, 4] - 0.5) * 5.0 * (2.0 / 32.0)
    ty = (u[:, 5] - 0.5) * 5.0 * (2.0 / 40.0)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # grid_sample maps output to input coordinates: the inverse of the drawn transform.
    sx, sy = 1.0 / (scale * aspect), 1.0 / scale
    theta = torch.stack(
        [
            torch.stack([cos * sx, (-sin + shear) * sx, tx], 1),
            torch.stack([sin * sy, cos * sy, ty], 1),
        ],
        1,
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    grid = grid + elastic_field(n, gen)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    r = u[:, 6]
    thick = F.max_pool2d(out, 3, 1, 1)
    thin = -F.max_pool2d(-out, 3, 1, 1)
    out = torch.where((r < 0.1)[:, None, None, None], thick, out)
    out = torch.where((r > 0.92)[:, None, None, None], 0.5 * (out + thin), out)
    # Blur: a share of the crops mixed with their 3x3 box blur (a softer lens, a shaky hand).
    blurred = F.avg_pool2d(out, 3, 1, 1, count_include_pad=False)
    mix = (u[:, 7] - 0.6).clamp(min=0.0)[:, None, None, None] * 1.75  # 40% of crops, <= 0.7
    out = out * (1.0 - mix) + blurred * mix
    # Box-border remnants: a faint line near one edge on 20% of the crops.
    v = torch.rand(n, 4, generator=gen)
    pos = torch.where(v[:, 2] < 0.5, (v[:, 1] * 5).floor(), 31.0 - (v[:, 1] * 5).floor())
    rows = torch.where(v[:, 2] < 0.5, (v[:, 1] * 5).floor(), 39.0 - (v[:, 1] * 5).floor())
    on = (torch.rand(n, generator=gen) < 0.2).float() * (0.1 + 0.3 * v[:, 3])
    vertical = (v[:, 0] < 0.5).float()
    col_hit = (torch.arange(32.0)[None, :] == pos[:, None]).float()  # [n, 32]
    row_hit = (torch.arange(40.0)[None, :] == rows[:, None]).float()  # [n, 40]
    lines = (
        vertical[:, None, None] * col_hit[:, None, :].expand(n, 40, 32)
        + (1 - vertical)[:, None, None] * row_hit[:, :, None].expand(n, 40, 32)
    ) * on[:, None, None]
    out = torch.maximum(out, lines[:, None])
    # Ink gain: most crops as photographed, FAINT_SHARE of them as under glare (0.2-0.7).
    g = torch.rand(n, 2, generator=gen)
    faint = g[:, 0] < FAINT_SHARE
    gain = torch.where(faint, 0.2 + 0.5 * g[:, 1], 0.7 + 0.5 * g[:, 1])[:, None, None, None]
    noise = torch.randn(out.shape, generator=gen) * 0.04 * torch.rand(n, 1, 1, 1, generator=gen)
    return (out * gain + noise).clamp(0.0, 1.0)


def train_net(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    seed: int,
    batch: int = 256,
    lr: float = 3e-3,
    minutes: float | None = None,
    log: Callable[[str], None] = print,
) -> tuple[BoxNet, float]:
    """Train one net; returns it and the epochs it saw.

    With `minutes`, the learning rate follows a warm-up and cosine decay over that much wall
    time instead of over `epochs` (which is then only an upper bound): on a shared machine the
    speed varies, and the run still ends annealed, on time.
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = BoxNet()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    per_epoch = math.ceil(len(x) / batch)
    steps = epochs * per_epoch
    # Digits are the scarce classes (X and blank fill most boxes); weight them up so the net's
    # capacity goes to telling 1 from 7, not X from blank.
    counts = torch.bincount(y, minlength=12).float().clamp(min=1)
    weights = (counts.sum() / counts).sqrt()
    weights = weights / weights.mean()
    started = time.perf_counter()
    budget = None if minutes is None else minutes * 60.0
    done = 0
    for epoch in range(epochs):
        net.train()
        t0 = time.perf_counter()
        order = torch.randperm(len(x), generator=gen)
        total = 0.0
        seen = 0
        for i in range(0, len(x), batch):
            frac = done / steps if budget is None else (time.perf_counter() - started) / budget
            if frac >= 1.0:
                break
            warm = min(1.0, frac / 0.05)
            rate = lr * (0.1 + 0.9 * warm) * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * frac)))
            for group in opt.param_groups:
                group["lr"] = rate
            idx = order[i : i + batch]
            logits = net(augment(x[idx], gen))
            loss = F.cross_entropy(logits, y[idx], weight=weights, label_smoothing=0.02)
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            done += 1
            seen += len(idx)
            total += float(loss.detach()) * len(idx)
        log(
            f"  net {seed} epoch {epoch + 1}/{epochs}: loss {total / max(1, seen):.4f} "
            f"({time.perf_counter() - t0:.0f} s, {seen} crops)"
        )
        if seen < len(x):
            break
    net.eval()
    return net, done / per_epoch


@torch.no_grad()
def logits_of(nets: list[BoxNet], x: torch.Tensor) -> torch.Tensor:
    return torch.stack(
        [torch.cat([n(x[i : i + 1024]) for i in range(0, len(x), 1024)]) for n in nets]
    ).mean(0)


def fit_temperature(logits: torch.Tensor, y: torch.Tensor) -> float:
    """The temperature minimising held-out negative log-likelihood (Guo et al. 2017)."""
    log_t = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), y)
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    opt.step(closure)  # type: ignore[no-untyped-call]
    return float(log_t.detach().exp())
