"""Capture one logger's lines as the services write them (JSON), for tests to read back."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

from shared.logs import JsonFormatter


class CapturedLog:
    def __init__(self) -> None:
        self.stream = io.StringIO()

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]


@contextlib.contextmanager
def captured_json_log(logger_name: str, service: str) -> Iterator[CapturedLog]:
    """INFO and above of `logger_name`, formatted as `service` would write them."""
    log = CapturedLog()
    handler = logging.StreamHandler(log.stream)
    handler.setFormatter(JsonFormatter(service))
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield log
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
