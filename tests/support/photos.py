"""Small real images for upload tests (the form generator makes the realistic ones)."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np


def make_jpeg(seed: int = 0, size: tuple[int, int] = (1600, 1200), quality: int = 80) -> bytes:
    rng = np.random.default_rng(seed)
    width, height = size
    image = np.full((height, width, 3), 235, np.uint8)
    image += rng.integers(0, 15, image.shape, dtype=np.uint8)
    cv2.putText(image, f"C.Hasil {seed}", (50, 200), cv2.FONT_HERSHEY_SIMPLEX, 4, (40, 40, 160), 8)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return encoded.tobytes()


def make_png(size: tuple[int, int] = (1600, 1200)) -> bytes:
    image = np.full((size[1], size[0]), 200, np.uint8)
    ok, encoded = cv2.imencode(".png", image)
    assert ok
    return encoded.tobytes()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
