"""Marker ids and QR payloads round-trip; layouts fit the page and never overlap."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.contests import Contest, definition
from shared.forms.identity import (
    MAX_PAGES,
    PageIdentity,
    decode_marker_id,
    marker_id,
    parse_qr_payload,
    qr_payload,
)
from shared.forms.layout import (
    PAGE_H_MM,
    PAGE_W_MM,
    Rect,
    box_rects,
    canonical_size,
    layout,
    page_to_px,
    rect_px,
)

TPS = "1708042001001"


def test_marker_ids_round_trip_and_are_unique() -> None:
    ids = set()
    for contest, page, corner in itertools.product(Contest, range(1, MAX_PAGES + 1), range(4)):
        mid = marker_id(contest, page, corner)
        assert 0 <= mid < 587  # AprilTag 36h11 has 587 codes
        dec = decode_marker_id(mid)
        assert dec is not None and (dec.contest, dec.page, dec.corner) == (contest, page, corner)
        ids.add(mid)
    assert len(ids) == 5 * MAX_PAGES * 4
    assert decode_marker_id(586) is None


@given(
    contest=st.sampled_from(list(Contest)),
    tps=st.from_regex(r"\A[0-9]{13}\Z"),
    page=st.integers(1, 16),
)
def test_qr_payload_round_trips(contest: Contest, tps: str, page: int) -> None:
    ident = PageIdentity(contest, tps, page, 16)
    payload = qr_payload(ident)
    assert parse_qr_payload(payload) == ident
    # Alphanumeric QR mode only, so the code stays at version 1.
    assert set(payload) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    assert parse_qr_payload("https://example.org") is None


def _overlap(a: Rect, b: Rect) -> bool:
    e = 1e-9  # touching edges (float sums of row heights) are not an overlap
    return (
        a.x + e < b.x + b.w and b.x + e < a.x + a.w and a.y + e < b.y + b.h and b.y + e < a.y + a.h
    )


@settings(max_examples=20, deadline=None)
@given(contest=st.sampled_from(list(Contest)), tps=st.from_regex(r"\A[1-9][0-9]{12}\Z"))
def test_layout_fits_and_nothing_overlaps(contest: Contest, tps: str) -> None:
    for page in range(1, definition(contest, tps).pages + 1):
        lay = layout(contest, tps, page)
        boxes = box_rects(lay)
        assert len(boxes) == 3 * len(definition(contest, tps).page_fields(page))
        solid = [m.rect for m in lay.markers] + [lay.qr] + list(boxes.values())
        solid += [f.label for f in lay.fields] + [lay.identity.rect]
        for r in solid:
            assert r.x >= 0 and r.x + r.w <= PAGE_W_MM and r.y >= 0 and r.y + r.h <= PAGE_H_MM
        for a, b in itertools.combinations(solid, 2):
            assert not _overlap(a, b), (a, b)
        assert len({m.id for m in lay.markers}) == 4


def test_page_to_px() -> None:
    assert canonical_size(8.0) == (1680, 2376)
    assert page_to_px([[10.0, 20.0]], 8.0).tolist() == [[80.0, 160.0]]
    lay = layout(Contest.PPWP, TPS, 2)
    x0, y0, x1, y1 = rect_px(box_rects(lay)[("100025", 0)], 10.0)
    assert (x1 - x0, y1 - y0) == (80, 100)  # 8 x 10 mm boxes
    assert np.allclose(lay.markers[0].rect.corners[0], [8.0, 8.0])
