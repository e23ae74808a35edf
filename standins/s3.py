"""moto's S3 server (`standins.moto_server`) in a child process on a free loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from standins.ports import free_port, wait_for_port


@contextmanager
def moto_s3(credentials: str = "bench") -> Iterator[str]:
    """Yields the server's `host:port`. The server runs with `credentials` as its AWS key and
    secret, never the caller's own."""
    port = free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": credentials, "AWS_SECRET_ACCESS_KEY": credentials}
    proc = subprocess.Popen(
        [sys.executable, "-m", "standins.moto_server", "127.0.0.1", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        wait_for_port(port)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
