"""Export the calibrated ensemble to ONNX, the only form the reader loads."""

from __future__ import annotations

from pathlib import Path

import torch

from services.ocr.reader.boxes import CROP_H, CROP_W
from services.ocr.train.net import BoxNet, Calibrated


def export_onnx(
    nets: list[BoxNet],
    temperature: float,
    path: Path,
    shifts: tuple[tuple[int, int], ...] = ((0, 0),),
) -> bytes:
    model = Calibrated(nets, temperature, shifts).eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        model,
        (torch.zeros(1, 1, CROP_H, CROP_W),),
        str(path),
        input_names=["ink"],
        output_names=["probs"],
        dynamic_axes={"ink": {0: "n"}, "probs": {0: "n"}},
        opset_version=17,
        dynamo=False,  # the TorchScript exporter needs no onnxscript; the graph is plain convs
    )
    return path.read_bytes()
