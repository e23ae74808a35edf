"""The box classifier's network: five 3x3 convolutions and two linear layers (~250k weights).

Sized for the CPU: ~9 M multiply-adds per 40x32 crop, so a page's 75 boxes take ~2 ms in
onnxruntime on one thread and an epoch over 150k crops takes ~1 minute on two cores.
"""

from __future__ import annotations

import torch
from torch import nn

from services.ocr.reader.symbols import N_CLASSES


def _block(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class BoxNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_block(1, 16),
            nn.MaxPool2d(2),  # 20 x 16
            *_block(16, 32),
            *_block(32, 32),
            nn.MaxPool2d(2),  # 10 x 8
            *_block(32, 64),
            *_block(64, 64),
            nn.MaxPool2d(2),  # 5 x 4
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.3),
            nn.Linear(64 * 5 * 4, 128),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.Linear(128, N_CLASSES),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.features(x))
        return out


class Calibrated(nn.Module):
    """What is exported: probabilities at the calibrated temperature, ensemble-averaged."""

    def __init__(self, nets: list[BoxNet], temperature: float) -> None:
        super().__init__()
        self.nets = nn.ModuleList(nets)
        self.temperature = temperature

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.stack([n(x) for n in self.nets]).mean(0)
        return torch.softmax(logits / self.temperature, dim=1)
