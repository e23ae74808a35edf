"""Sirekap's nested public paths: codes must nest, and have the lengths of their levels."""

from __future__ import annotations

import pytest

from services.tally.public.sirekap import _segments
from services.tally.regions import normalise
from shared.errors import NotFound


def test_nested_codes_are_accepted() -> None:
    assert _segments("17/1708/170804/1708042001/1708042001003.json") == [
        "17", "1708", "170804", "1708042001", "1708042001003",
    ]  # fmt: skip
    assert _segments("17.json") == ["17"]


@pytest.mark.parametrize(
    "path",
    ["17/1601.json", "17/1708", "1708.json", "17/1708/17080.json", "../17.json", "1x.json"],
)
def test_paths_that_do_not_nest_are_not_found(path: str) -> None:
    with pytest.raises(NotFound):
        _segments(path)


def test_region_codes_normalise_to_dotted() -> None:
    assert normalise("1708042001") == "17.08.04.2001"
    assert normalise("17.08") == "17.08"
    assert normalise("0") == normalise("00") == "00"
    assert normalise("1708042001003") == "1708042001003"  # a TPS is not its village
