"""Training crops cut by the real reading pipeline from generated, photographed forms.

The classifier never sees a synthetic "box image"; it sees exactly what `read_page` feeds it:
a form rendered with TRAINING-side MNIST digits (`side="train"`), photographed by the forms
generator, decoded, located, refined and cropped by `services.ocr.reader`. Pages are drawn over
all contests and pages and the three difficulties, so the crops carry real perspective, curl,
blur, shadow and JPEG artefacts.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from services.ocr.reader.locate import Located, locate
from services.ocr.reader.page import extract_boxes
from services.ocr.reader.photo import check_quality, decode, preview
from services.ocr.reader.symbols import BLANK, X
from shared.contests import Contest, definition
from shared.forms.generate import generate_photo
from shared.forms.layout import layout
from shared.forms.truth import make_truth, rng_for

# Typical and hard photos are what the benchmarks measure; clean ones anchor the easy end.
TRAIN_TPS = "1708032004011"
DIFFICULTY_MIX = (("clean", 0.15), ("typical", 0.5), ("hard", 0.35))


@dataclass
class Crops:
    crops: npt.NDArray[np.uint8]  # [N, 40, 32] raw grey crops
    labels: npt.NDArray[np.int64]  # class index (0-9, X, blank)
    page_ids: npt.NDArray[np.int64]  # which generated page each crop came from


def label_of(symbol: str) -> int:
    return X if symbol == "X" else BLANK if symbol == "" else int(symbol)


def page_spec(i: int, seed: int) -> tuple[str, str, int, str]:
    """(tps_code, contest, page, difficulty) of the i-th generated training page."""
    rng = rng_for("ocr-train", seed, i)
    contest = list(Contest)[int(rng.integers(len(Contest)))]
    # One TPS: the code changes only the QR code and the printed names, not the boxes, and a
    # single TPS keeps every blank page in the generator's render cache (5x faster harvest).
    tps = TRAIN_TPS
    pages = definition(contest, tps).pages
    # Page 1 (voter data) is on every form: give it a third of the draws.
    page = 1 if rng.random() < 0.33 else int(rng.integers(1, pages + 1))
    names = [d for d, _ in DIFFICULTY_MIX]
    probs = np.array([p for _, p in DIFFICULTY_MIX])
    difficulty = names[int(rng.choice(len(names), p=probs / probs.sum()))]
    return tps, contest.value, page, difficulty


def training_photo(i: int, seed: int, bad: str | None = None) -> tuple[bytes, dict[str, Any]]:
    """The i-th generated training page's photo and ground truth (`page_spec`'s draw); `bad`
    makes it one of the generator's bad photos (`shared.forms.photo.BAD_KINDS`)."""
    tps, contest, page, difficulty = page_spec(i, seed)
    truth = make_truth(contest, tps, seed=seed * 1_000_003 + i)
    return generate_photo(tps, contest, page, truth, difficulty, seed=i, side="train", bad=bad)


def crops_of_page(i: int, seed: int) -> tuple[list[npt.NDArray[np.uint8]], list[int]]:
    tps, contest, page, _ = page_spec(i, seed)
    jpeg, gt = training_photo(i, seed)
    photo = decode(jpeg)
    if photo is None:
        return [], []
    view = preview(photo)
    if check_quality(photo, view).reason is not None:
        return [], []
    found = locate(view, tps)
    if not isinstance(found, Located) or found.page != page:
        return [], []
    boxes = extract_boxes(photo.gray, found, layout(contest, tps, page))
    crops, labels = [], []
    for (key, box), crop in zip(boxes.keys, boxes.crops, strict=True):
        if key in boxes.cut:
            continue
        crops.append(crop)
        labels.append(label_of(gt["boxes"][key][box]))
    return crops, labels


def _work(args: tuple[int, int]) -> tuple[int, list[npt.NDArray[np.uint8]], list[int]]:
    i, seed = args
    crops, labels = crops_of_page(i, seed)
    return i, crops, labels


def harvest(pages: int, seed: int = 0, processes: int = 2, start: int = 0) -> Crops:
    """Crops of pages start..start+pages-1, in `processes` niced worker processes."""
    crops: list[npt.NDArray[np.uint8]] = []
    labels: list[int] = []
    page_ids: list[int] = []
    jobs = [(i, seed) for i in range(start, start + pages)]
    ctx = mp.get_context("spawn")
    with ctx.Pool(processes, initializer=os.nice, initargs=(10,)) as pool:
        for i, c, lab in pool.imap_unordered(_work, jobs, chunksize=4):
            crops += c
            labels += lab
            page_ids += [i] * len(c)
    return Crops(
        np.stack(crops).astype(np.uint8),
        np.asarray(labels, dtype=np.int64),
        np.asarray(page_ids, dtype=np.int64),
    )


def harvest_chunks(folder: Path, pages: int, seed: int, processes: int, chunk: int = 100) -> Crops:
    """`harvest` in chunks saved as they finish, so an interrupted run keeps what it made and a
    second run continues where it stopped. Exactly the first `pages` pages: each file is named
    by its first page and how many it holds, so a larger run's cache never leaks into a smaller
    one (the record's `pages` stays true) and a short last chunk is never taken for a full one."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for start in range(0, pages, chunk):
        count = min(chunk, pages - start)
        path = folder / f"s{seed}_{start:05d}_{count}.npz"
        if not path.exists():
            part = harvest(count, seed, processes, start)
            tmp = path.with_suffix(".tmp.npz")
            save(part, str(tmp))
            tmp.replace(path)
        paths.append(path)
    return concat([load(str(p)) for p in paths])


def concat(parts: list[Crops]) -> Crops:
    return Crops(
        np.concatenate([p.crops for p in parts]),
        np.concatenate([p.labels for p in parts]),
        np.concatenate([p.page_ids for p in parts]),
    )


def save(crops: Crops, path: str) -> None:
    np.savez_compressed(path, crops=crops.crops, labels=crops.labels, page_ids=crops.page_ids)


def load(path: str) -> Crops:
    with np.load(path) as z:
        return Crops(z["crops"], z["labels"], z["page_ids"])
