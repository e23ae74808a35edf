"""Kill a helper process with SIGKILL at the moment it says it has reached the point of interest."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


async def kill_when_it_says(script: str, *args: str, marker: bytes) -> None:
    """Run `python -c script args…` from the project root; when its first line of output is
    `marker`, SIGKILL it (no chance to report, roll back politely or clean up)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, *args, cwd=PROJECT, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 120)
        assert line.strip() == marker, line
        process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(process.wait(), 10)
    finally:
        if process.returncode is None:
            process.kill()
