"""Box crops: rectified, borders dropped, ink normalised; the classifier's input.

The crops are luma (`photo.decode`). Ink is measured relative to the crop's own paper level
(its 90th percentile), so shade and exposure fall out before the classifier sees it. The light
red box borders (luma ~176 of 255 on a clean page) stay faintly visible; the classifier learns
them from crops cut by this same pipeline.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from services.ocr.reader.photo import Gray

CROP_W, CROP_H = 32, 40  # 10 x 12 mm (the 8 x 10 mm box and 1 mm around it): 3.2 px/mm
CROP_MARGIN_MM = 1.0  # a 0.8 mm homography error still keeps the whole digit inside
# Sampling the photo at ~2x the crop's resolution before warping keeps thin strokes.
SAMPLE_PX_PER_MM = 6.5
# Darkening below 6% of the paper level is JPEG noise and paper texture, not ink. It was 14%,
# which also erased digits under glare: on the hard benchmark, digits whose darkest ink is
# under 30% of a normal stroke were misread 14 times in 40, eight of them as blank.
INK_FLOOR = 0.06


def normalise(crop: Gray) -> npt.NDArray[np.float32]:
    """0 = paper, 1 = full ink."""
    out: npt.NDArray[np.float32] = normalise_batch(crop[None])[0]
    return out


def ink_batch(crops: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """[N, H, W] grey crops as the classifier takes them: [N, 1, H, W] ink."""
    return normalise_batch(crops)[:, None]


def normalise_batch(crops: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """`normalise` of [N, H, W] crops at once (one percentile call instead of N)."""
    x = crops.astype(np.float32)
    paper = np.percentile(x.reshape(len(x), -1), 90, axis=1)[:, None, None]
    ink = (paper - x) / np.maximum(0.6 * paper, 30.0)
    out: npt.NDArray[np.float32] = np.clip((ink - INK_FLOOR) / (1.0 - INK_FLOOR), 0.0, 1.0)
    return out.astype(np.float32)
