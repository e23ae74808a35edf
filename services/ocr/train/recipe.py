"""The committed model's recipe (services/ocr/model/boxes.json): the default of both training
commands, `sirekap ocr train` and `python -m services.ocr.train`.

Two nets trained at once, a process and a thread each, 75 minutes each, on crops of 3,000
harvested pages and 240,000 synthetic crops drawn from all of MNIST but the evaluation side
(`synth.py`, `shared.forms.mnist_wide`; the elastic augmentation of `fit.py`), the
threshold chosen on 1,000 pages read end to end. `epochs` only bounds the passes; the minutes
decide (the cosine schedule runs over them). Torch-free, so the command line can read it.
"""

from __future__ import annotations

RECIPE_PAGES = 3000
RECIPE_EPOCHS = 40
# Wall time, so the epochs depend on the machine: 45 minutes gave the earlier model ~14 epochs
# (193 s each) but only ~9 on the machine of 2026-11-28 (~285 s each); 68 gave the small net
# (net.py) 14.3 and 13.6; 75 give the wider net 11.3 and 11.0 (~400 s each, 2026-11-29).
RECIPE_MINUTES = 75.0
RECIPE_NETS = 2
RECIPE_PARALLEL = True  # the nets at once, one process each
RECIPE_SYNTH = 240_000
RECIPE_THRESHOLD_PAGES = 1000
