"""A killed training command takes its worker processes with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = textwrap.dedent(
    """
    import multiprocessing, os, sys, time
    from services.ocr.train.stop import exit_on_sigterm

    if __name__ == "__main__":
        if sys.argv[1] == "handled":
            exit_on_sigterm()
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            pid = pool.apply(os.getpid)
            pool.apply_async(time.sleep, (60,))  # the worker busy, as with a net to train
            time.sleep(1)
            print(pid, flush=True)
            time.sleep(60)
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _worker_left_after_kill(tmp_path: Path, mode: str) -> bool:
    script = tmp_path / "train_like.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, str(script), mode], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    worker = int(proc.stdout.readline())
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 3
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = _alive(worker)
    if left:
        os.kill(worker, signal.SIGKILL)
    return left


def test_sigterm_ends_the_pool_workers_too(tmp_path: Path) -> None:
    assert not _worker_left_after_kill(tmp_path, "handled")


def test_without_the_handler_the_workers_would_run_on(tmp_path: Path) -> None:
    """The failure the handler exists for, so the test above is known to be able to fail."""
    assert _worker_left_after_kill(tmp_path, "default")
