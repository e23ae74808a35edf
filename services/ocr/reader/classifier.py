"""The box classifier: a small CNN run through onnxruntime on one CPU thread.

The committed model (`services/ocr/model/boxes.onnx`) takes [N, 1, 40, 32] ink images and
returns calibrated probabilities over the 12 classes of `symbols.CLASSES` (the temperature is
part of the graph, so the file's SHA-256 names the exact probabilities a reading used).
`boxes.json` beside it holds the training record and the acceptance thresholds chosen on
training-side data.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

MODEL_DIR = Path(__file__).resolve().parents[1] / "model"
MODEL_PATH = MODEL_DIR / "boxes.onnx"
META_PATH = MODEL_DIR / "boxes.json"

# A second look at the boxes the model is least sure of: the crop moved one pixel each way, the
# views' log-probabilities averaged with the first (which equals averaging the ensemble's
# logits over the views, as test-time augmentation inside the graph would). Only these boxes
# pay for the four extra passes, a few of a page's ~75.
SECOND_LOOK_BELOW = 0.999
SECOND_LOOK_SHIFTS = ((1, 0), (-1, 0), (0, 1), (0, -1))


class ModelMissing(RuntimeError):
    """The classifier model is missing; run `sirekap ocr train`."""


@dataclass(frozen=True)
class Classifier:
    session: Any  # onnxruntime.InferenceSession
    input_name: str
    sha256: str
    meta: dict[str, Any]

    def probs(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """[N, 12] calibrated probabilities of `batch` ([N, 1, 40, 32] ink), each unsure box
        (top probability under SECOND_LOOK_BELOW) averaged over its shifted views."""
        if len(batch) == 0:
            return np.zeros((0, 12), dtype=np.float32)
        out = self._run(batch)
        unsure = np.flatnonzero(out.max(axis=1) < SECOND_LOOK_BELOW)
        if len(unsure) > 0:
            crops = batch[unsure]
            views = np.concatenate([shift(crops, dx, dy) for dx, dy in SECOND_LOOK_SHIFTS])
            seen = np.concatenate([out[unsure], self._run(views)])
            log_p = np.log(np.maximum(seen, 1e-30)).reshape(-1, len(unsure), out.shape[1])
            mean = log_p.mean(axis=0)
            p = np.exp(mean - mean.max(axis=1, keepdims=True))
            out[unsure] = p / p.sum(axis=1, keepdims=True)
        return out

    def _run(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        out = self.session.run(None, {self.input_name: batch})[0]
        return np.array(out, dtype=np.float32)

    @property
    def accept_confidence(self) -> float:
        return float(self.meta["thresholds"]["accept_confidence"])

    @property
    def field_ok(self) -> float:
        return float(self.meta["thresholds"]["field_ok"])


def shift(x: npt.NDArray[np.float32], dx: int, dy: int) -> npt.NDArray[np.float32]:
    """`x` ([N, 1, H, W]) moved by (dx, dy) pixels, paper (0) coming in at the edges (as
    `services.ocr.train.net.shift`)."""
    out = np.zeros_like(x)
    h, w = x.shape[-2], x.shape[-1]
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[
        ..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def load(path: Path = MODEL_PATH, meta_path: Path = META_PATH) -> Classifier:
    import onnxruntime as ort

    if not path.exists() or not meta_path.exists():
        raise ModelMissing(f"{path} or {meta_path} missing")
    data = path.read_bytes()
    opts = ort.SessionOptions()
    # One thread: a worker process per core scales better than threads fighting over 2 cores,
    # and the batch (75 boxes) is too small to split usefully.
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    return Classifier(
        session=session,
        input_name=session.get_inputs()[0].name,
        sha256=hashlib.sha256(data).hexdigest(),
        meta=json.loads(meta_path.read_text()),
    )


def load_folder(folder: Path | None) -> Classifier:
    """A candidate model's folder (its boxes.onnx and boxes.json), or the committed model."""
    if folder is None:
        return default_classifier()
    return load(folder / MODEL_PATH.name, folder / META_PATH.name)


@lru_cache(maxsize=1)
def default_classifier() -> Classifier:
    """The committed model, loaded once per process."""
    return load()
