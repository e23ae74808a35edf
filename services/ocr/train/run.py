"""`sirekap ocr train` / `python -m services.ocr.train`: harvest, fit, calibrate, export, choose.

Steps, each logged with its time:
1. harvest crops from `pages` generated TRAINING-side pages (cached under .cache/ocr/);
2. hold out every 7th page's crops for calibration;
3. train `nets` small CNNs with different seeds (an ensemble averages their logits);
4. fit the temperature on the held-out crops;
5. export to services/ocr/model/boxes.onnx;
6. read `threshold_pages` fresh training-side pages end to end and choose the auto-accept
   threshold (`thresholds.py`); write services/ocr/model/boxes.json.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from services.ocr.reader.classifier import META_PATH, MODEL_PATH, load
from services.ocr.reader.symbols import CLASSES, X
from services.ocr.train import data
from services.ocr.train.export import export_onnx
from services.ocr.train.fit import fit_temperature, ink_images, logits_of, train_net
from services.ocr.train.thresholds import choose_accept, score_pages

CACHE = Path(os.environ.get("SIREKAP_CACHE_DIR", Path(__file__).resolve().parents[3] / ".cache"))
CALIBRATION_EVERY = 7
KEEP_X = 0.35
# A field whose chosen number has less than this probability is shown to the reviewer first.
FIELD_OK = 0.99


def train(
    *,
    pages: int = 1600,
    epochs: int = 5,
    nets: int = 1,
    threads: int = 2,
    threshold_pages: int = 300,
    seed: int = 1,
    processes: int = 2,
    out_dir: Path = MODEL_PATH.parent,
) -> dict[str, Any]:
    torch.set_num_threads(threads)
    started = time.perf_counter()
    print(f"harvesting {pages} training-side pages (cached in chunks) ...", flush=True)
    crops = data.harvest_chunks(CACHE / "ocr" / "chunks", pages, seed, processes)
    harvest_s = time.perf_counter() - started
    held = crops.page_ids % CALIBRATION_EVERY == 0
    x = ink_images(crops.crops)
    y = torch.from_numpy(crops.labels)
    x_tr, y_tr = x[torch.from_numpy(~held)], y[torch.from_numpy(~held)]
    x_cal, y_cal = x[torch.from_numpy(held)], y[torch.from_numpy(held)]
    # X boxes are half of all boxes (every number under 100 has one) and the easiest class:
    # train on a share of them so the CPU's minutes go to the digits.
    draw = torch.rand(len(y_tr), generator=torch.Generator().manual_seed(seed))
    keep = (y_tr != X) | (draw < KEEP_X)
    x_tr, y_tr = x_tr[keep], y_tr[keep]
    print(
        f"{len(x_tr)} training crops, {len(x_cal)} held out ({harvest_s:.0f} s to harvest)",
        flush=True,
    )
    t0 = time.perf_counter()
    models = [train_net(x_tr, y_tr, epochs=epochs, seed=seed * 100 + k) for k in range(nets)]
    train_s = time.perf_counter() - t0
    for k, net in enumerate(models):  # kept for ensembles and warm starts; not committed
        torch.save(net.state_dict(), CACHE / "ocr" / f"net_s{seed}_e{epochs}_{k}.pt")
    model_path, meta_path = out_dir / MODEL_PATH.name, out_dir / META_PATH.name
    logits = logits_of(models, x_cal)
    pred = logits.argmax(1)
    digits = y_cal < 10
    held_acc = float((pred == y_cal).float().mean())
    digit_acc = float((pred[digits] == y_cal[digits]).float().mean())
    temperature = fit_temperature(logits.detach(), y_cal)
    print(
        f"held-out accuracy {held_acc:.4f} (digits {digit_acc:.4f}); temperature {temperature:.3f}",
        flush=True,
    )
    onnx = export_onnx(models, temperature, model_path)
    meta: dict[str, Any] = {
        "classes": list(CLASSES),
        "input": "ink [N, 1, 40, 32], 0 = paper, 1 = ink (services.ocr.reader.boxes.normalise)",
        "temperature": temperature,
        "training": {
            "pages": pages,
            "seed": seed,
            "epochs": epochs,
            "nets": nets,
            "crops": len(x_tr),
            "held_out": len(x_cal),
            "held_out_accuracy": held_acc,
            "held_out_digit_accuracy": digit_acc,
            "train_seconds": round(train_s, 1),
            "harvest_seconds": round(harvest_s, 1),
            "confusions": _confusions(pred.numpy(), y_cal.numpy()),
        },
        # Placeholder until step 6 measures it; never used for a real decision.
        "thresholds": {"accept_confidence": 1.0, "field_ok": FIELD_OK},
        "onnx_bytes": len(onnx),
    }
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    meta["thresholds"] = choose_thresholds(model_path, meta_path, threshold_pages, seed)
    meta["total_seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(meta["thresholds"]), flush=True)
    return meta


def choose_thresholds(model_path: Path, meta_path: Path, pages: int, seed: int) -> dict[str, Any]:
    """Read `pages` fresh training-side pages with the model and record the chosen threshold."""
    t0 = time.perf_counter()
    scores = score_pages(load(model_path, meta_path), pages, seed=seed + 1000)
    accept, stats = choose_accept(scores)
    thresholds = {
        "accept_confidence": accept,
        "field_ok": FIELD_OK,
        "chosen_on": stats,
        "threshold_seconds": round(time.perf_counter() - t0, 1),
    }
    meta = json.loads(meta_path.read_text())
    meta["thresholds"] = thresholds
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return thresholds


def _confusions(pred: npt.NDArray[np.int64], truth: npt.NDArray[np.int64]) -> list[str]:
    wrong: dict[str, int] = {}
    for p, t in zip(pred, truth, strict=True):
        if p != t:
            k = f"{CLASSES[t] or 'blank'}->{CLASSES[p] or 'blank'}"
            wrong[k] = wrong.get(k, 0) + 1
    return [f"{k}: {n}" for k, n in sorted(wrong.items(), key=lambda kv: -kv[1])[:12]]
