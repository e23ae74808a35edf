"""Ink normalisation: what the classifier sees of a box crop."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from services.ocr.reader.boxes import CROP_H, CROP_W, normalise


def _crop(stroke_level: int, paper: int = 245, noise: float = 0.0) -> npt.NDArray[np.uint8]:
    rng = np.random.default_rng(5)
    crop = np.full((CROP_H, CROP_W), float(paper))
    crop[8:32, 15:18] = stroke_level  # a 1's stem
    crop += rng.normal(0.0, noise, crop.shape)
    out: npt.NDArray[np.uint8] = np.clip(crop, 0, 255).astype(np.uint8)
    return out


def test_a_stroke_under_glare_survives() -> None:
    """Glare left the stroke 18% of the paper darker (hard benchmark photo 491: a 1 read as
    blank at 0.9998): it must still reach the classifier as ink, not as paper."""
    ink = normalise(_crop(stroke_level=round(245 * (1 - 0.18 * 0.6))))
    assert ink[8:32, 15:18].min() > 0.1
    assert ink[:, :10].max() == 0.0


def test_paper_texture_and_noise_are_not_ink() -> None:
    ink = normalise(_crop(stroke_level=245, noise=3.0))
    assert ink.mean() < 0.01


def test_a_dark_stroke_is_full_ink_whatever_the_exposure() -> None:
    for paper in (250, 200, 140):
        ink = normalise(_crop(stroke_level=round(paper * 0.3), paper=paper))
        assert ink[8:32, 15:18].min() > 0.95, paper
