"""`python -m services.ocr.train [--pages N] [--epochs N] [--nets N]`."""

from __future__ import annotations

import argparse
import os

from services.ocr.train.run import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=2400)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--nets", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--threshold-pages", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    os.nice(10)  # training shares the machine: let interactive work go first
    train(
        pages=args.pages,
        epochs=args.epochs,
        nets=args.nets,
        threads=args.threads,
        threshold_pages=args.threshold_pages,
        seed=args.seed,
    )


if __name__ == "__main__":
    main()
