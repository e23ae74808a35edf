"""Small real images for upload tests (the form generator makes the realistic ones)."""

from __future__ import annotations

import functools
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


@functools.cache
def _form(tps: str, contest: str, page: int, seed: int) -> bytes:
    from shared.forms.generate import generate_photo

    jpeg, _ = generate_photo(tps, contest, page, None, "clean", seed, "eval")
    return jpeg


def form_photo(tps: str, page: int, n: int = 0, *, contest: str = "PPWP", seed: int = 1) -> bytes:
    """A clean photo of a real form (the OCR reads and accepts it); each `n` is a distinct photo
    (another SHA-256) of the same sheet, as a retake would be: a JPEG comment segment differs."""
    photo = _form(tps, contest, page, seed)
    if n == 0:
        return photo
    comment = f"retake-{n:08d}".encode()
    return photo[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + photo[2:]
