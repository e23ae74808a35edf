"""The photo decode and checks: one JPEG decode gives OpenCV's luma and the colour decode's
tint; the quick quantile is numpy's."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image
from pytest import MonkeyPatch

from services.ocr.reader import photo as photo_module
from services.ocr.reader.photo import (
    DECODE_HALF_FROM,
    SCREEN_BLUE_RED,
    _quantile,
    decode,
    downscale,
    looks_like_screen,
)


@settings(max_examples=300, deadline=None)
@given(
    arrays(
        np.uint8,
        st.tuples(st.integers(1, 40), st.integers(1, 40)),
        elements=st.integers(0, 255),
    ),
    st.sampled_from([0.1, 0.5, 0.9, 0.999]),
)
def test_the_histogram_quantile_is_numpys(image: np.ndarray, q: float) -> None:
    assert _quantile(image, q) == int(np.percentile(image, q * 100, method="inverted_cdf"))


@settings(max_examples=200, deadline=None)
@given(
    arrays(np.uint8, (12, 17), elements=st.integers(0, 255)),
    arrays(np.bool_, (12, 17)),
    st.sampled_from([0.5, 0.999]),
)
def test_the_masked_quantile_counts_only_the_masked_pixels(
    image: np.ndarray, inside: np.ndarray, q: float
) -> None:
    mask = inside.astype(np.uint8) * 255
    expected = (
        int(np.percentile(image[inside], q * 100, method="inverted_cdf")) if inside.any() else 0
    )
    assert _quantile(image, q, mask) == expected


def test_the_quantile_is_the_lowest_level_reaching_the_share() -> None:
    assert _quantile(np.array([[10, 13]], np.uint8), 0.5) == 10
    assert _quantile(np.array([[0, 255, 255, 0]], np.uint8), 0.9) == 255
    assert _quantile(np.full((40, 25), 7, np.uint8), 0.999) == 7


def _jpeg(image: np.ndarray, **save: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=90, **save)
    return buf.getvalue()


def _scene(height: int, width: int, blue_red: float = 1.0, seed: int = 0) -> np.ndarray:
    """An RGB picture with detail everywhere and paper whose blue is `blue_red` times its red."""
    rng = np.random.default_rng(seed)
    grey = cv2.GaussianBlur(rng.uniform(60, 250, (height, width)).astype(np.float32), (0, 0), 3)
    rgb = np.stack([grey, grey * (1 + blue_red) / 2, grey * blue_red], axis=-1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


@pytest.mark.parametrize(
    ("height", "width", "subsampling"),
    [(757, 1001, 2), (757, 1001, 1), (757, 1001, 0), (2001, 3201, 2)],  # 4:2:0, 4:2:2, 4:4:4
)
def test_one_decode_gives_opencvs_luma(height: int, width: int, subsampling: int) -> None:
    jpeg = _jpeg(_scene(height, width), subsampling=subsampling)
    photo = decode(jpeg)
    assert photo is not None
    half = max(height, width) >= DECODE_HALF_FROM
    flags = cv2.IMREAD_REDUCED_GRAYSCALE_2 if half else cv2.IMREAD_GRAYSCALE
    expected = np.asarray(cv2.imdecode(np.frombuffer(jpeg, np.uint8), flags))
    assert photo.scale == (0.5 if half else 1.0)
    assert np.array_equal(photo.gray, expected)  # the planes' padding is cropped off


@pytest.mark.parametrize("blue_red", [0.9, 1.0, 1.15])
@pytest.mark.parametrize("subsampling", [2, 0])
def test_the_tint_is_what_a_colour_decode_shows(blue_red: float, subsampling: int) -> None:
    jpeg = _jpeg(_scene(600, 800, blue_red), subsampling=subsampling)
    photo = decode(jpeg)
    assert photo is not None and photo.blue_red is not None
    bgr = np.asarray(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_REDUCED_COLOR_8), float)
    bright = bgr.mean(axis=-1) > np.percentile(bgr.mean(axis=-1), 60)
    shown = float(np.median(bgr[..., 0][bright] / bgr[..., 2][bright]))
    assert abs(photo.blue_red - shown) < 0.01
    assert looks_like_screen(photo) == (blue_red >= SCREEN_BLUE_RED)


def test_a_png_is_decoded_in_colour_with_the_same_tint() -> None:
    scene = _scene(600, 800, 1.15)
    buf = io.BytesIO()
    Image.fromarray(scene).save(buf, "PNG")
    png, jpeg = decode(buf.getvalue()), decode(_jpeg(scene))
    assert png is not None and jpeg is not None
    assert png.gray.shape == jpeg.gray.shape
    assert np.abs(png.gray.astype(int) - jpeg.gray.astype(int)).mean() < 2
    assert png.blue_red is not None and jpeg.blue_red is not None
    assert abs(png.blue_red - jpeg.blue_red) < 0.01


def test_grey_and_cmyk_jpegs_are_decoded_too() -> None:
    # libjpeg-turbo gives neither as planar YCbCr: OpenCV decodes them in colour instead.
    scene = _scene(600, 800)
    grey = decode(_jpeg(scene[..., 0]))
    assert grey is not None and grey.blue_red == 1.0
    buf = io.BytesIO()
    Image.fromarray(scene).convert("CMYK").save(buf, "JPEG", quality=90)
    cmyk = decode(buf.getvalue())
    assert cmyk is not None and cmyk.gray.shape == (600, 800) and cmyk.blue_red is not None


def test_a_truncated_jpeg_still_decodes_what_it_holds() -> None:
    jpeg = _jpeg(_scene(600, 800))
    photo = decode(jpeg[: len(jpeg) * 2 // 3])
    assert photo is not None and photo.gray.shape == (600, 800)


def test_without_libjpeg_turbo_opencv_decodes_the_same_photo(monkeypatch: MonkeyPatch) -> None:
    jpeg = _jpeg(_scene(600, 800, 1.15))
    fast = decode(jpeg)
    monkeypatch.setattr(photo_module, "_turbojpeg", lambda: None)
    slow = decode(jpeg)
    assert fast is not None and slow is not None
    assert np.abs(fast.gray.astype(int) - slow.gray.astype(int)).max() <= 1
    assert fast.blue_red is not None and slow.blue_red is not None
    assert abs(fast.blue_red - slow.blue_red) < 0.01


@pytest.mark.parametrize(
    ("height", "width", "size"),
    [(1848, 1386, (750, 1000)), (3255, 2441, (750, 1000)), (1001, 777, (500, 644))],
)
def test_downscale_gives_the_size_asked_and_an_area_average(
    height: int, width: int, size: tuple[int, int]
) -> None:
    # A smooth picture with fine detail on top: bilinear after exact halvings must stay close to
    # OpenCV's one-step area average (what the photo checks' thresholds were first chosen on).
    yy, xx = np.mgrid[0:height, 0:width]
    smooth = 128 + 100 * np.sin(xx / 97.0) * np.cos(yy / 131.0)
    detail = 20 * ((xx // 3 + yy // 3) % 2)
    gray = np.clip(smooth + detail, 0, 255).astype(np.uint8)
    small = downscale(gray, size)
    assert small.shape == (size[1], size[0]) and small.dtype == np.uint8
    area = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    assert float(np.abs(small.astype(np.float32) - area.astype(np.float32)).mean()) < 3.0
