"""How fast the generator makes `typical` phone photos, against JPEG-encoding alone.

    python -m benchmarks.forms [--seconds 5]

One core (OpenCV threads off). Warm-up first: blank pages, the noise bank and the X banks are
built once per process, as they are in a long benchmark run. The baseline encodes images of the
same sizes at the same JPEG qualities as the photos, so the ratio says how much of the time is
the simulation itself. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import cv2
import numpy as np

from shared.forms.generate import RENDER_SCALES, generate_photo
from shared.forms.photo import encode_jpeg
from shared.forms.render import render_blank

TPS = "1708042001001"
JOBS = (("PPWP", 1), ("PPWP", 2), ("DPR", 1), ("DPR", 2), ("DPD", 2), ("DPRD_KABKOTA", 3))


def _rate(fn: Callable[[int], object], seconds: float) -> tuple[float, float, int]:
    """(per CPU-second, per wall-second, count). With OpenCV threads off the process uses one
    core, so CPU time is the one-core figure even when other work shares the machine."""
    n, wall0, cpu0 = 0, time.perf_counter(), time.process_time()
    while (elapsed := time.perf_counter() - wall0) < seconds or n < 10:
        fn(n)
        n += 1
    return n / (time.process_time() - cpu0), n / elapsed, n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    for contest, page in JOBS:  # blank pages at every scale a typical photo may need
        for scale in RENDER_SCALES:
            render_blank(contest, TPS, page, scale)
    samples = []
    for i, (contest, page) in enumerate(JOBS):  # warm-up, and the baseline's images
        for s in range(3):
            jpeg, gt = generate_photo(TPS, contest, page, None, "typical", 1000 + 10 * i + s)
            img = np.asarray(cv2.imdecode(np.frombuffer(jpeg, np.uint8), 1), dtype=np.uint8)
            samples.append((img, gt["photo"]["jpeg_quality"]))

    def photo(n: int) -> None:
        contest, page = JOBS[n % len(JOBS)]
        generate_photo(TPS, contest, page, None, "typical", n)

    def baseline(n: int) -> None:
        img, quality = samples[n % len(samples)]
        encode_jpeg(img, quality)

    photos_per_s, photos_wall, n_photos = _rate(photo, args.seconds)
    baseline_per_s, baseline_wall, n_base = _rate(baseline, args.seconds)
    mean_px = float(np.mean([s[0].shape[0] * s[0].shape[1] for s in samples])) / 1e6
    print(f"typical photos:   {photos_per_s:6.1f}/CPU-s  {photos_wall:6.1f}/s wall  ({n_photos})")
    print(
        f"JPEG encode only: {baseline_per_s:6.1f}/CPU-s  {baseline_wall:6.1f}/s wall  "
        f"({n_base}, same sizes and qualities, mean {mean_px:.2f} MP)"
    )
    ratio = photos_per_s / baseline_per_s
    print(f"ratio photo/encode: {ratio:.3f}")
    print(
        json.dumps(
            {
                "photos_per_s": round(photos_per_s, 2),
                "baseline_per_s": round(baseline_per_s, 2),
                "ratio": round(ratio, 4),
                "photos_per_wall_s": round(photos_wall, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
