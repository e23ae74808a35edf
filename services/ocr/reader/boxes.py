"""Box crops: rectified, borders dropped, ink normalised; the classifier's input.

The layout draws box borders in a light red that the red channel (`Photo.gray`) barely sees
(236 of 255); blue and black ballpoint ink are dark there (< 80). Ink is measured relative to
the crop's own paper level, so shade and exposure fall out before the classifier sees it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from services.ocr.reader.locate import Homography
from services.ocr.reader.photo import Gray
from services.ocr.reader.rectify import warp_region
from shared.forms.layout import Layout

Batch = npt.NDArray[np.float32]

CROP_W, CROP_H = 32, 40  # 10 x 12 mm (the 8 x 10 mm box and 1 mm around it): 3.2 px/mm
CROP_MARGIN_MM = 1.0  # a 0.8 mm homography error still keeps the whole digit inside
# Sampling the photo at ~2x the crop's resolution before warping keeps thin strokes.
SAMPLE_PX_PER_MM = 6.5
# Ink darker than paper by less than 12% of the paper level is a border remnant or JPEG noise:
# the red border measures (255 - 236) / (0.6 * 255) = 0.12 on a clean page.
INK_FLOOR = 0.14


def normalise(crop: Gray) -> npt.NDArray[np.float32]:
    """0 = paper, 1 = full ink."""
    paper = float(np.percentile(crop, 90))
    ink = (paper - crop.astype(np.float32)) / max(0.6 * paper, 30.0)
    out: npt.NDArray[np.float32] = np.clip((ink - INK_FLOOR) / (1.0 - INK_FLOOR), 0.0, 1.0)
    return out


def box_keys(lay: Layout) -> list[tuple[str, int]]:
    """(field, box index) in print order; box 0 is the hundreds."""
    return [(f.key, i) for f in lay.fields for i in range(len(f.boxes))]


def crop_boxes(gray: Gray, hom: Homography, lay: Layout) -> tuple[Batch, list[Gray]]:
    """The classifier batch [N, 1, CROP_H, CROP_W] and the raw grey crops (for reviewers)."""
    raw: list[Gray] = []
    for f in lay.fields:
        for rect in f.boxes:
            raw.append(warp_region(gray, hom, rect, (CROP_W, CROP_H), CROP_MARGIN_MM))
    batch = np.stack([normalise(c) for c in raw])[:, None, :, :].astype(np.float32)
    return batch, raw
