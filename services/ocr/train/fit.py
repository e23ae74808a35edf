"""Fit the box classifier on harvested crops: augmentation, training, temperature scaling."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

from services.ocr.reader.boxes import normalise_batch
from services.ocr.train.net import BoxNet


def ink_images(crops: npt.NDArray[np.uint8]) -> torch.Tensor:
    """[N, 1, 40, 32] float ink, exactly as `read_page` normalises a crop."""
    return torch.from_numpy(normalise_batch(crops)[:, None].copy())


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Shifts of +-2 px, ink gain, thinner/thicker strokes and noise: the variation the
    generator draws per page, drawn again per crop so each epoch sees new versions."""
    n = x.shape[0]
    pad = F.pad(x, (2, 2, 2, 2))
    dx = torch.randint(0, 5, (n,), generator=gen)
    dy = torch.randint(0, 5, (n,), generator=gen)
    rows = (torch.arange(40)[None, :] + dy[:, None])[:, None, :, None].expand(n, 1, 40, 36)
    shifted = torch.gather(pad, 2, rows)
    cols = (torch.arange(32)[None, :] + dx[:, None])[:, None, None, :].expand(n, 1, 40, 32)
    out = torch.gather(shifted, 3, cols)
    r = torch.rand(n, generator=gen)
    thick = F.max_pool2d(out, 3, 1, 1)
    thin = -F.max_pool2d(-out, 3, 1, 1)
    out = torch.where((r < 0.1)[:, None, None, None], thick, out)
    out = torch.where((r > 0.92)[:, None, None, None], 0.5 * (out + thin), out)
    gain = 0.7 + 0.5 * torch.rand(n, 1, 1, 1, generator=gen)
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
    log: Callable[[str], None] = print,
) -> BoxNet:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = BoxNet()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * math.ceil(len(x) / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    # Digits are the scarce classes (X and blank fill most boxes); weight them up so the net's
    # capacity goes to telling 1 from 7, not X from blank.
    counts = torch.bincount(y, minlength=12).float().clamp(min=1)
    weights = (counts.sum() / counts).sqrt()
    weights = weights / weights.mean()
    for epoch in range(epochs):
        net.train()
        t0 = time.perf_counter()
        order = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), batch):
            idx = order[i : i + batch]
            logits = net(augment(x[idx], gen))
            loss = F.cross_entropy(logits, y[idx], weight=weights, label_smoothing=0.02)
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        log(
            f"  net {seed} epoch {epoch + 1}/{epochs}: loss {total / len(x):.4f} "
            f"({time.perf_counter() - t0:.0f} s)"
        )
    net.eval()
    return net


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
