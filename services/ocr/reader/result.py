"""What reading one page produced: plain data, JSON-ready, no database types."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from services.ocr.reader.reasons import Reason
from services.ocr.reader.version import READER_VERSION


@dataclass(frozen=True, slots=True)
class Claim:
    """What the upload said the photo shows."""

    tps_code: str
    contest: str
    page: int
    dpt: int | None = None  # the TPS's voters on the DPT, for rule 6; None = national maximum


@dataclass(slots=True)
class FieldReading:
    key: str
    value: int | None
    confidence: float  # probability of `value` from the boxes alone (calibrated)
    candidates: list[tuple[int, float]]
    boxes: list[dict[str, Any]]  # [{symbol, prob, crop_key}], crop_key set by the worker
    ok: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "confidence": round(self.confidence, 6),
            "candidates": [[v, round(p, 6)] for v, p in self.candidates],
            "boxes": self.boxes,
            "ok": self.ok,
        }


@dataclass(frozen=True, slots=True)
class Failing:
    field: str
    rule: str  # R1..R7, or confidence / arithmetic / outside / identity
    reason_en: str
    reason_id: str

    def to_json(self) -> dict[str, str]:
        return {
            "field": self.field,
            "rule": self.rule,
            "reason_en": self.reason_en,
            "reason_id": self.reason_id,
        }


@dataclass
class PageReading:
    outcome: str  # a ReadingOutcome value
    claim: Claim
    reason: Reason | None = None  # why retake / wrong_form
    fields: dict[str, FieldReading] = field(default_factory=dict)
    failing: list[Failing] = field(default_factory=list)
    confidence: float = 0.0
    model_sha256: str = ""
    reader_version: str = READER_VERSION
    # For reviewers and benchmarks: (field, box) -> raw grey crop, and the box probabilities.
    crops: dict[tuple[str, int], npt.NDArray[np.uint8]] = field(default_factory=dict)
    box_probs: dict[tuple[str, int], npt.NDArray[np.float32]] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def values(self) -> dict[str, int | None]:
        return {k: f.value for k, f in self.fields.items()}

    def failing_json(self) -> list[dict[str, str]]:
        out = [f.to_json() for f in self.failing]
        if self.reason is not None and not out:
            out.append(
                {
                    "field": "",
                    "rule": self.reason.code,
                    "reason_en": self.reason.en,
                    "reason_id": self.reason.id,
                }
            )
        return out
