"""`python -m services.ocr.train [--pages N] [--epochs N] [--nets N]`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from services.ocr.reader.classifier import META_PATH, MODEL_PATH
from services.ocr.train import recipe
from services.ocr.train.run import choose_thresholds, train
from services.ocr.train.stop import exit_on_sigterm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    # Defaults: the committed model's recipe (recipe.RECIPE_*).
    parser.add_argument("--pages", type=int, default=recipe.RECIPE_PAGES)
    parser.add_argument("--epochs", type=int, default=recipe.RECIPE_EPOCHS)
    parser.add_argument("--nets", type=int, default=recipe.RECIPE_NETS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--processes", type=int, default=2, help="for harvest and thresholds")
    parser.add_argument(
        "--minutes",
        type=float,
        default=recipe.RECIPE_MINUTES,
        help="wall-time budget per net (cosine LR over it)",
    )
    parser.add_argument("--reuse", action="store_true", help="load the nets a run saved")
    parser.add_argument(
        "--parallel",
        action=argparse.BooleanOptionalAction,
        default=recipe.RECIPE_PARALLEL,
        help="train the nets in processes, up to --threads at once, one thread each (faster)",
    )
    parser.add_argument(
        "--views",
        type=int,
        default=1,
        help="test-time views (1 or 5 shifted copies of each box), chosen by held-out NLL",
    )
    parser.add_argument(
        "--synth", type=int, default=recipe.RECIPE_SYNTH, help="synthetic crops to add (synth.py)"
    )
    parser.add_argument("--threshold-pages", type=int, default=recipe.RECIPE_THRESHOLD_PAGES)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=MODEL_PATH.parent, help="model folder")
    parser.add_argument(
        "--thresholds-only", action="store_true", help="only re-choose the model's thresholds"
    )
    args = parser.parse_args()
    os.nice(10)  # training shares the machine: let interactive work go first
    exit_on_sigterm()
    if args.thresholds_only:
        folder = args.out
        found = choose_thresholds(
            folder / MODEL_PATH.name,
            folder / META_PATH.name,
            args.threshold_pages,
            args.seed,
            args.processes,
        )
        print(found)
        return
    train(
        pages=args.pages,
        epochs=args.epochs,
        nets=args.nets,
        threads=args.threads,
        processes=args.processes,
        synth=args.synth,
        reuse=args.reuse,
        parallel=args.parallel,
        minutes=args.minutes,
        max_views=args.views,
        threshold_pages=args.threshold_pages,
        seed=args.seed,
        out_dir=args.out,
    )


if __name__ == "__main__":
    main()
