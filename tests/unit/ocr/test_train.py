"""The training side's pure parts: synthetic crops, the threshold rule, test-time shifts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from services.ocr.reader.boxes import CROP_H, CROP_W, normalise_batch
from services.ocr.reader.symbols import BLANK, X
from services.ocr.train.synth import synth_crop, synth_crops
from services.ocr.train.thresholds import FLOOR, PageScore, choose_accept, page_kind


def test_synthetic_crops_have_the_readers_shape_and_ink_where_a_symbol_is() -> None:
    crops, labels = synth_crops(24, seed=3)
    assert crops.shape == (24, CROP_H, CROP_W) and crops.dtype == np.uint8
    assert set(labels.tolist()) <= set(range(12))
    rng = np.random.default_rng(0)
    ink_digit = normalise_batch(np.stack([synth_crop(rng, 8) for _ in range(8)]))
    ink_blank = normalise_batch(np.stack([synth_crop(rng, BLANK) for _ in range(8)]))
    inner = (slice(8, 32), slice(6, 26))  # inside the box, away from its border
    assert ink_digit[:, inner[0], inner[1]].sum() > 4 * ink_blank[:, inner[0], inner[1]].sum()


def test_synthetic_crops_are_reproducible() -> None:
    a, la = synth_crops(6, seed=9)
    b, lb = synth_crops(6, seed=9)
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    assert X in synth_crops(200, seed=1)[1]


def test_the_threshold_clears_the_most_confident_page_that_must_not_pass() -> None:
    scores = [
        PageScore(0.999999, True, True, "normal", "typical"),
        PageScore(0.999995, True, True, "normal", "hard"),
        PageScore(0.9, False, True, "normal", "hard"),  # read wrongly, consistently
        PageScore(0.9999, False, True, "slip", "typical"),  # a slip "corrected" by the decoder
        PageScore(0.0, False, False, "screen", "typical"),
    ]
    threshold, stats = choose_accept(scores)
    # 0.9999 has odds 9,999: ten times fewer odds of being wrong is 99,990, i.e. 0.99999...
    assert threshold == pytest.approx(99_990 / 99_991)
    assert threshold > FLOOR
    assert stats["accepted_wrong"] == 0
    assert stats["accept_rate"] == pytest.approx(2 / 3)
    assert stats["slip_pages"] == 1 and stats["screen_pages"] == 1


def test_the_threshold_never_falls_below_the_floor() -> None:
    threshold, _ = choose_accept([PageScore(0.99, True, True), PageScore(0.1, False, True)])
    assert threshold == FLOOR


def test_threshold_pages_mix_slips_and_screens_deterministically() -> None:
    kinds = [page_kind(i, seed=1001) for i in range(400)]
    assert kinds == [page_kind(i, seed=1001) for i in range(400)]
    assert 10 < kinds.count("slip") < 60 and 3 < kinds.count("screen") < 35


def test_test_time_shifts_move_the_image_and_bring_in_paper() -> None:
    torch = pytest.importorskip("torch")
    from services.ocr.train.net import shift

    x = torch.zeros(1, 1, 4, 5)
    x[0, 0, 1, 1] = 1.0
    right = shift(x, 1, 0)
    down = shift(x, 0, 1)
    assert right[0, 0, 1, 2] == 1.0 and right.sum() == 1.0
    assert down[0, 0, 2, 1] == 1.0 and down.sum() == 1.0
    assert shift(x, -2, 0).sum() == 0.0  # moved out of the crop


def test_the_model_record_names_the_committed_file() -> None:
    from services.ocr.reader.classifier import default_classifier

    model = default_classifier()
    recorded = model.meta.get("onnx_sha256")
    assert recorded == model.sha256


def test_the_elastic_field_is_smooth_small_and_spares_a_quarter_of_the_crops() -> None:
    torch = pytest.importorskip("torch")
    from services.ocr.train.fit import ELASTIC_PX, elastic_field

    field = elastic_field(400, torch.Generator().manual_seed(0))
    assert field.shape == (400, CROP_H, CROP_W, 2)
    pixels = field / torch.tensor([2.0 / CROP_W, 2.0 / CROP_H])  # back to pixels
    moved = pixels.abs().amax(dim=(1, 2, 3)) > 0
    assert 0.6 < float(moved.float().mean()) < 0.9  # ELASTIC_SHARE of 0.75
    assert float(pixels[moved].std()) < 2 * ELASTIC_PX
    # Smooth: neighbouring pixels move almost together (a wobble, not noise).
    step = (pixels[:, 1:] - pixels[:, :-1]).abs().max()
    assert float(step) < 0.25 * float(pixels.abs().max())


def test_cached_harvest_chunks_give_exactly_the_pages_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A larger run's cached chunks must not leak into a smaller run (its record would say one
    number of pages and train on another), nor a short last chunk pass for a full one."""
    from services.ocr.train import data

    def fake_harvest(pages: int, seed: int, processes: int, start: int) -> data.Crops:
        ids = np.arange(start, start + pages, dtype=np.int64)
        return data.Crops(np.zeros((pages, CROP_H, CROP_W), np.uint8), ids % 12, ids)

    monkeypatch.setattr(data, "harvest", fake_harvest)
    assert len(data.harvest_chunks(tmp_path, 25, seed=1, processes=1, chunk=10).page_ids) == 25
    assert data.harvest_chunks(tmp_path, 30, 1, 1, chunk=10).page_ids.tolist() == list(range(30))
    assert data.harvest_chunks(tmp_path, 12, 1, 1, chunk=10).page_ids.tolist() == list(range(12))
