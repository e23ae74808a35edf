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


class ModelMissing(RuntimeError):
    """The classifier model is missing; run `sirekap ocr train`."""


@dataclass(frozen=True)
class Classifier:
    session: Any  # onnxruntime.InferenceSession
    input_name: str
    sha256: str
    meta: dict[str, Any]

    def probs(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        if len(batch) == 0:
            return np.zeros((0, 12), dtype=np.float32)
        out = self.session.run(None, {self.input_name: batch})[0]
        return np.asarray(out, dtype=np.float32)

    @property
    def accept_confidence(self) -> float:
        return float(self.meta["thresholds"]["accept_confidence"])

    @property
    def field_ok(self) -> float:
        return float(self.meta["thresholds"]["field_ok"])


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


@lru_cache(maxsize=1)
def default_classifier() -> Classifier:
    """The committed model, loaded once per process."""
    return load()
