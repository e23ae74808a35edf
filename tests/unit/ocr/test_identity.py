"""The printed identity: the QR code is tried at further scales before Tesseract's text."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest

from services.ocr.reader import identity
from services.ocr.reader.locate import Located, locate
from services.ocr.reader.photo import decode, preview
from shared.contests import Contest
from shared.forms.generate import generate_photo
from shared.forms.layout import Layout, layout
from shared.forms.truth import make_truth

TPS = "1708012003004"


@pytest.fixture(scope="module")
def page() -> tuple[np.ndarray, Any, Layout]:
    truth = make_truth("PPWP", TPS, 11)
    jpeg, _ = generate_photo(TPS, "PPWP", 1, truth, "typical", seed=11, side="eval")
    photo = decode(jpeg)
    assert photo is not None
    found = locate(preview(photo), TPS)
    assert isinstance(found, Located)
    return photo.gray, found.homography, layout(Contest.PPWP, TPS, 1)


class PickyDecoder:
    """One of OpenCV's QR decoders, blind to crops narrower than `blind_below` px; records the
    widths it was shown."""

    def __init__(self, real: Any, blind_below: int, widths: list[int]) -> None:
        self.real, self.blind_below, self.widths = real, blind_below, widths

    def detectAndDecode(self, crop: np.ndarray) -> tuple[str, Any, Any]:
        self.widths.append(crop.shape[1])
        if crop.shape[1] < self.blind_below:
            return "", None, None
        found: tuple[str, Any, Any] = self.real.detectAndDecode(crop)
        return found


def _picky(
    monkeypatch: pytest.MonkeyPatch, blind_below: int, aruco_blind_below: int | None = None
) -> list[int]:
    """Both decoders blind below `blind_below` px (the ArUco one below `aruco_blind_below`);
    returns the widths shown, to either, in order."""
    widths: list[int] = []
    aruco_blind = blind_below if aruco_blind_below is None else aruco_blind_below
    aruco = PickyDecoder(cv2.QRCodeDetectorAruco(), aruco_blind, widths)
    classic = PickyDecoder(cv2.QRCodeDetector(), blind_below, widths)
    monkeypatch.setattr(identity, "_qr_detectors", lambda: (aruco, classic))
    return widths


def test_the_qr_code_is_read_at_the_first_scale(page: tuple[np.ndarray, Any, Layout]) -> None:
    found = identity.read_qr(*page)
    assert found is not None
    assert (found.tps_code, found.contest, found.page, found.source) == (TPS, "PPWP", 1, "qr")


def test_a_scale_the_decoder_fails_on_is_retried_at_the_next(
    page: tuple[np.ndarray, Any, Layout], monkeypatch: pytest.MonkeyPatch
) -> None:
    lay = page[2]
    widths = [round((lay.qr.w + 2 * identity.QR_MARGIN_MM) * s) for s in identity.QR_PX_PER_MM]
    tried = _picky(monkeypatch, widths[0] + 1)  # blind at the first scale only
    found = identity.read_qr(*page)
    assert found is not None and found.tps_code == TPS and found.source == "qr"
    # Both decoders at the first scale, then the next scale (by one decoder or both).
    assert tried[:3] == [widths[0], widths[0], widths[1]] and set(tried[3:]) <= {widths[1]}


def test_a_crop_the_quick_decoder_misses_goes_to_the_classic_one(
    page: tuple[np.ndarray, Any, Layout], monkeypatch: pytest.MonkeyPatch
) -> None:
    lay = page[2]
    first = round((lay.qr.w + 2 * identity.QR_MARGIN_MM) * identity.QR_PX_PER_MM[0])
    tried = _picky(monkeypatch, 0, aruco_blind_below=10_000)
    found = identity.read_qr(*page)
    assert found is not None and found.tps_code == TPS and found.source == "qr"
    assert tried == [first, first]


class RaisingDecoder:
    """A decoder that fails the way OpenCV's does on some misread symbols: by raising."""

    def detectAndDecode(self, crop: np.ndarray) -> tuple[str, Any, Any]:
        raise cv2.error("mode 10 is not implemented in function 'decodeSymbols'")


def test_a_decoder_that_raises_is_a_decoder_that_missed(
    page: tuple[np.ndarray, Any, Layout], monkeypatch: pytest.MonkeyPatch
) -> None:
    classic = cv2.QRCodeDetector()
    monkeypatch.setattr(identity, "_qr_detectors", lambda: (RaisingDecoder(), classic))
    found = identity.read_qr(*page)
    assert found is not None and found.tps_code == TPS and found.source == "qr"


def test_when_no_scale_reads_the_code_the_printed_line_is_read(
    page: tuple[np.ndarray, Any, Layout], monkeypatch: pytest.MonkeyPatch
) -> None:
    tried = _picky(monkeypatch, 10_000)
    assert identity.read_qr(*page) is None
    assert len(tried) == 2 * len(identity.QR_PX_PER_MM)
    found = identity.read_identity(*page)
    # Tesseract reads the line, though not always every digit of it (here 1708… as 1706…):
    # the reader then sends the page to a person (test_reader.py).
    assert found is not None and found.source == "text"
    assert (found.contest, found.page, len(found.tps_code)) == ("PPWP", 1, 13)
