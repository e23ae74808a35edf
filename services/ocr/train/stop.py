"""A training command stops whole: `kill` ends its worker processes with it."""

from __future__ import annotations

import signal
import sys
from types import FrameType


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so every `with Pool(...)` on the way out terminates its
    workers. Under the default handler a killed `python -m services.ocr.train` left its two
    net-training processes running on alone, each holding a core for the rest of its budget."""
    signal.signal(signal.SIGTERM, _exit)


def _exit(signum: int, frame: FrameType | None) -> None:
    sys.exit(128 + signum)
