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

import hashlib
import json
import math
import multiprocessing
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

from services.ocr.reader.classifier import META_PATH, MODEL_PATH
from services.ocr.reader.symbols import CLASSES, X
from services.ocr.train import data
from services.ocr.train.export import export_onnx
from services.ocr.train.fit import fit_temperature, ink_images, train_net
from services.ocr.train.net import BoxNet, Calibrated
from services.ocr.train.recipe import (
    RECIPE_EPOCHS,
    RECIPE_MINUTES,
    RECIPE_NETS,
    RECIPE_PAGES,
    RECIPE_PARALLEL,
    RECIPE_SYNTH,
    RECIPE_THRESHOLD_PAGES,
)
from services.ocr.train.synth import DIGIT_SOURCE, synth_crops
from services.ocr.train.thresholds import choose_accept, score_pages
from shared.forms.mnist_wide import fetch as fetch_wide_digits

CACHE = Path(os.environ.get("SIREKAP_CACHE_DIR", Path(__file__).resolve().parents[3] / ".cache"))
CALIBRATION_EVERY = 7
KEEP_X = 0.35
# A field whose chosen number has less than this probability is shown to the reviewer first.
FIELD_OK = 0.99
AUGMENTATION = (
    "per crop and epoch: affine (shift +-2.5 px, scale +-12%, width +-10%, rotation +-4.6 deg, "
    "slant +-0.15), elastic 1.2 px on a 5x4 grid on 75%, 3x3 blur mix on 40%, "
    "thicker 10% / thinner 8%, border line 20%, gain (15% faint: 0.2-0.7), noise"
)
SYNTH_CHUNK = 15_000


def _synth_chunk(job: tuple[Path, int]) -> None:
    path, chunk_seed = job
    c, lab = synth_crops(SYNTH_CHUNK, chunk_seed)
    np.savez_compressed(path.with_suffix(".tmp.npz"), crops=c, labels=lab)
    path.with_suffix(".tmp.npz").replace(path)


def synth_chunks(
    folder: Path, n: int, seed: int, processes: int = 1
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """`n` synthetic crops (`synth.py`), made in cached chunks of SYNTH_CHUNK, `processes` at
    a time."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [
        folder / f"{DIGIT_SOURCE}_s{seed}_{k:03d}_{SYNTH_CHUNK}.npz"
        for k in range(math.ceil(n / SYNTH_CHUNK))
    ]
    todo = [(path, seed + 1000 * k) for k, path in enumerate(paths) if not path.exists()]
    if processes > 1 and len(todo) > 1:
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            pool.map(_synth_chunk, todo)
    else:
        for job in todo:
            _synth_chunk(job)
    crops, labels = [], []
    for path in paths:
        with np.load(path) as z:
            crops.append(z["crops"])
            labels.append(z["labels"])
    return np.concatenate(crops)[:n], np.concatenate(labels)[:n]


@dataclass(frozen=True)
class TrainingData:
    x: torch.Tensor  # training crops (harvested, most X boxes left out, then synthetic)
    y: torch.Tensor
    x_cal: torch.Tensor  # held-out harvested crops: temperature and test-time views
    y_cal: torch.Tensor
    harvested: int
    harvest_s: float


def training_data(pages: int, seed: int, processes: int, synth: int) -> TrainingData:
    """The crops of a run, from the cache when an earlier run (or another net's process) made
    them: every net of a run sees exactly the same data."""
    started = time.perf_counter()
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
    harvested = len(x_tr)
    if synth > 0:
        if DIGIT_SOURCE == "train_wide":
            fetch_wide_digits()
        t0 = time.perf_counter()
        s_crops, s_labels = synth_chunks(CACHE / "ocr" / "synth", synth, seed, processes)
        x_tr = torch.cat([x_tr, ink_images(s_crops)])
        y_tr = torch.cat([y_tr, torch.from_numpy(s_labels)])
        print(f"{len(s_labels)} synthetic crops ({time.perf_counter() - t0:.0f} s)", flush=True)
    return TrainingData(x_tr, y_tr, x_cal, y_cal, harvested, harvest_s)


def _net_path(seed: int, epochs: int, k: int) -> Path:
    return CACHE / "ocr" / f"net_s{seed}_e{epochs}_{k}.pt"


def _fit_and_save(
    d: TrainingData, k: int, seed: int, epochs: int, minutes: float | None
) -> tuple[BoxNet, float]:
    """Net `k` of a run, saved where `--reuse` finds it (kept for ensembles and warm starts;
    not committed); returns it and the epochs it saw."""
    net, seen = train_net(d.x, d.y, epochs=epochs, seed=seed * 100 + k, minutes=minutes)
    torch.save(net.state_dict(), _net_path(seed, epochs, k))
    return net, round(seen, 2)


def _train_saved(args: tuple[int, int, int, int, int, int, float | None]) -> float:
    """One net in its own process (`parallel`): the data again from the cache; returns the
    epochs it saw."""
    k, pages, seed, synth, epochs, threads, minutes = args
    torch.set_num_threads(threads)
    return _fit_and_save(training_data(pages, seed, 1, synth), k, seed, epochs, minutes)[1]


def train(
    *,
    pages: int = RECIPE_PAGES,
    epochs: int = RECIPE_EPOCHS,
    nets: int = RECIPE_NETS,
    threads: int = 2,
    threshold_pages: int = RECIPE_THRESHOLD_PAGES,
    seed: int = 1,
    processes: int = 2,
    synth: int = RECIPE_SYNTH,
    reuse: bool = False,
    parallel: bool = RECIPE_PARALLEL,
    minutes: float | None = RECIPE_MINUTES,
    max_views: int = 1,
    out_dir: Path = MODEL_PATH.parent,
) -> dict[str, Any]:
    """Harvest, train `nets` nets (one after another on `threads` threads, or with `parallel`
    up to `threads` at once, a single-threaded process each: on two cores, two single-threaded
    nets see more epochs in the same minutes than two-threaded nets in turn, and four run as
    two pairs), calibrate, export, choose the threshold."""
    torch.set_num_threads(threads)
    started = time.perf_counter()
    print(f"harvesting {pages} training-side pages (cached in chunks) ...", flush=True)
    d = training_data(pages, seed, processes, synth)
    x_cal, y_cal, harvested, harvest_s = d.x_cal, d.y_cal, d.harvested, d.harvest_s
    print(
        f"{len(d.x)} training crops, {len(x_cal)} held out ({harvest_s:.0f} s to harvest)",
        flush=True,
    )
    t0 = time.perf_counter()
    epochs_seen: list[float] = []
    todo = [k for k in range(nets) if not (reuse and _net_path(seed, epochs, k).exists())]
    in_processes = parallel and len(todo) > 1
    if in_processes:  # each process loads the data again from the cache
        at_once = min(len(todo), max(1, threads))
        each = max(1, threads // at_once)
        jobs = [(k, pages, seed, synth, epochs, each, minutes) for k in todo]
        # One net per process (maxtasksperchild): a pair's memory is freed before the next.
        with multiprocessing.get_context("spawn").Pool(at_once, maxtasksperchild=1) as pool:
            epochs_seen = pool.map(_train_saved, jobs, chunksize=1)
    models = []
    for k in range(nets):
        if k not in todo or in_processes:  # trained before, or just now in a process
            net = BoxNet()
            net.load_state_dict(torch.load(_net_path(seed, epochs, k)))
            models.append(net.eval())
        else:
            net, seen = _fit_and_save(d, k, seed, epochs, minutes)
            models.append(net)
            epochs_seen.append(seen)
    train_s = time.perf_counter() - t0
    model_path, meta_path = out_dir / MODEL_PATH.name, out_dir / META_PATH.name
    chosen = calibrate(models, x_cal, y_cal, max_views)
    pred, temperature, shifts = chosen["pred"], chosen["temperature"], chosen["shifts"]
    held_acc, digit_acc = chosen["accuracy"], chosen["digit_accuracy"]
    onnx = export_onnx(models, temperature, model_path, shifts)
    meta: dict[str, Any] = {
        "classes": list(CLASSES),
        "input": "ink [N, 1, 40, 32], 0 = paper, 1 = ink (services.ocr.reader.boxes.normalise)",
        "temperature": temperature,
        "training": {
            "pages": pages,
            "seed": seed,
            "epochs": epochs,
            "epochs_seen": epochs_seen,  # of the nets trained in this run
            "reused_nets": [k for k in range(nets) if k not in todo],  # saved by an earlier run
            "minutes_per_net": minutes,
            "nets": nets,
            "crops": len(d.x),
            "harvested_crops": harvested,
            "synthetic_crops": len(d.x) - harvested,
            "synthetic_digits_from": DIGIT_SOURCE,
            "augmentation": AUGMENTATION,
            "held_out": len(x_cal),
            "held_out_accuracy": held_acc,
            "held_out_digit_accuracy": digit_acc,
            "test_time_shifts": [list(t) for t in shifts],
            "held_out_by_shifts": chosen["by_shifts"],
            "train_seconds": round(train_s, 1),
            "harvest_seconds": round(harvest_s, 1),
            "confusions": _confusions(pred.numpy(), y_cal.numpy()),
        },
        # Placeholder until step 6 measures it; never used for a real decision.
        "thresholds": {"accept_confidence": 1.0, "field_ok": FIELD_OK},
        "onnx_bytes": len(onnx),
        # What every reading records as model_sha256 (services.ocr.reader.classifier.load).
        "onnx_sha256": hashlib.sha256(onnx).hexdigest(),
    }
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    meta["thresholds"] = choose_thresholds(model_path, meta_path, threshold_pages, seed, processes)
    meta["total_seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(meta["thresholds"]), flush=True)
    return meta


# Test-time augmentation: the logits averaged over the crop and its 1 px shifts (in the graph).
TTA_OPTIONS: tuple[tuple[tuple[int, int], ...], ...] = (
    ((0, 0),),
    ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)),
)


def calibrate(
    models: list[BoxNet], x_cal: torch.Tensor, y_cal: torch.Tensor, max_views: int = 1
) -> dict[str, Any]:
    """Temperature for each test-time shift set of at most `max_views` views on the held-out
    crops; the one with the lower held-out negative log-likelihood is chosen (training-side
    pages only). Every view is a forward pass of every net over the page's ~75 boxes: with two
    nets, 5 views took a page from ~60 to 142 ms, for a held-out NLL of 0.0135 against 0.0139."""
    digits = y_cal < 10
    best: dict[str, Any] = {}
    by_shifts: dict[str, dict[str, float]] = {}
    for shifts in (o for o in TTA_OPTIONS if len(o) <= max_views):
        wrapped = Calibrated(models, 1.0, shifts).eval()
        with torch.no_grad():
            logits = torch.cat(
                [wrapped.logits(x_cal[i : i + 1024]) for i in range(0, len(x_cal), 1024)]
            )
        temperature = fit_temperature(logits, y_cal)
        nll = float(F.cross_entropy(logits / temperature, y_cal))
        pred = logits.argmax(1)
        acc = float((pred == y_cal).float().mean())
        digit_acc = float((pred[digits] == y_cal[digits]).float().mean())
        by_shifts[str(len(shifts))] = {"nll": nll, "accuracy": acc, "digit_accuracy": digit_acc}
        print(
            f"{len(shifts)} view(s): held-out accuracy {acc:.4f} (digits {digit_acc:.4f}), "
            f"nll {nll:.4f}, temperature {temperature:.3f}",
            flush=True,
        )
        if not best or nll < best["nll"]:
            best = {
                "nll": nll,
                "pred": pred,
                "temperature": temperature,
                "shifts": shifts,
                "accuracy": acc,
                "digit_accuracy": digit_acc,
            }
    best["by_shifts"] = by_shifts
    return best


def choose_thresholds(
    model_path: Path, meta_path: Path, pages: int, seed: int, processes: int = 2
) -> dict[str, Any]:
    """Read `pages` fresh training-side pages with the model and record the chosen threshold."""
    t0 = time.perf_counter()
    scores = score_pages(model_path, meta_path, pages, seed=seed + 1000, processes=processes)
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
