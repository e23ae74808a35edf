"""Structured logs: a record is one JSON line with its request's id; the middleware's ids."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import re
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.errors import NotFound
from shared.logs import (
    JsonFormatter,
    TextFormatter,
    bind,
    current_request_id,
    logging_config,
    mark_logged,
    sane_request_id,
)
from shared.settings import LogSettings
from shared.web import install_error_handlers, install_request_ids

HEX32 = re.compile(r"[0-9a-f]{32}")


def _record(msg: str = "photo %s stored", *args: Any, **extra: Any) -> logging.LogRecord:
    record = logging.getLogger("sirekap.test").makeRecord(
        "sirekap.test", logging.INFO, __file__, 1, msg, args or ("abc",), None, extra=extra
    )
    return record


def test_a_record_is_one_json_line_with_the_fields() -> None:
    with bind(request_id="req-1", job_id=7):
        line = JsonFormatter("ingest").format(_record(status=201, duration_ms=1.5))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "INFO"
    assert entry["logger"] == "sirekap.test"
    assert entry["msg"] == "photo abc stored"
    assert entry["service"] == "ingest"
    assert entry["request_id"] == "req-1"
    assert (entry["job_id"], entry["status"], entry["duration_ms"]) == (7, 201, 1.5)
    assert entry["ts"].endswith("Z")
    stamp = datetime.fromisoformat(entry["ts"].replace("Z", "+00:00"))
    assert stamp.utcoffset() is not None and stamp.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert list(entry)[:6] == ["ts", "level", "logger", "msg", "service", "request_id"]


def test_outside_a_request_the_id_is_null_and_fields_unbind() -> None:
    with bind(request_id="req-2"):
        assert current_request_id() == "req-2"
    assert current_request_id() is None
    entry = json.loads(JsonFormatter("ocr").format(_record()))
    assert entry["request_id"] is None and "job_id" not in entry


def test_exceptions_become_one_string_field_and_newlines_stay_escaped() -> None:
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        record = _record("failed:\n%s", "two lines")
        record.exc_info = sys.exc_info()
    line = JsonFormatter("tally").format(record)
    assert line.count("\n") == 0
    entry = json.loads(line)
    assert entry["msg"] == "failed:\ntwo lines"
    assert isinstance(entry["exc_info"], str)
    assert "Traceback" in entry["exc_info"] and "ValueError: bad" in entry["exc_info"]


def test_credential_like_fields_are_redacted() -> None:
    extra = {
        "authorization": "Bearer eyJ",
        "enrolment_code": "123456",
        "access_token": "t",
        "signature": "sig",
        "path": "/v1/uploads",
    }
    entry = json.loads(JsonFormatter().format(_record(**extra)))
    for key in ("authorization", "enrolment_code", "access_token", "signature"):
        assert entry[key] == "[redacted]", key
    assert entry["path"] == "/v1/uploads"


def test_text_format_is_one_readable_line() -> None:
    with bind(request_id="req-3"):
        line = TextFormatter("ingest").format(_record(status=404))
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d\.\d{3}Z INFO  ingest sirekap\.test: photo abc stored \[req-3\] status=404",
        line,
    ), line


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("abc-123", True),
        (b"0f9e8d7c6b5a49382716f5e4d3c2b1a0", True),
        ("3fa85f64-5717-4562-b3fc-2c963f66afa6", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("a\nb", False),
        ("a\r\nX-Evil: 1", False),
        ("<script>", False),
        ("id with spaces", False),
        ("", False),
        (None, False),
    ],
)
def test_request_ids_are_kept_only_when_sane(sent: str | bytes | None, kept: bool) -> None:
    got = sane_request_id(sent)
    if kept:
        assert got == (sent.decode() if isinstance(sent, bytes) else sent)
    else:
        assert HEX32.fullmatch(got)


def test_settings_read_the_format_and_level(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIREKAP_LOG_FORMAT", "text")
    monkeypatch.setenv("SIREKAP_LOG_LEVEL", "warning")
    settings = LogSettings()
    assert (settings.log_format, settings.log_level) == ("text", "WARNING")
    monkeypatch.setenv("SIREKAP_LOG_LEVEL", "LOUD")
    with pytest.raises(ValueError, match="SIREKAP_LOG_LEVEL"):
        LogSettings()
    monkeypatch.delenv("SIREKAP_LOG_LEVEL")
    monkeypatch.delenv("SIREKAP_LOG_FORMAT")
    assert (LogSettings().log_format, LogSettings().log_level) == ("json", "INFO")


_CONFIGURED = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "httpx", "httpcore")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    saved = {}
    for name in _CONFIGURED:
        logger = logging.getLogger(name)
        saved[name] = (logger.handlers[:], logger.level, logger.propagate, logger.filters[:])
    yield
    for name, (handlers, level, propagate, filters) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate
        logger.filters[:] = filters


@pytest.mark.usefixtures("restore_logging")
def test_the_dict_config_sends_uvicorn_and_our_loggers_through_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logging.config.dictConfig(logging_config("tally", fmt="json", level="INFO"))
    existing = logging.getLogger("sirekap.web")  # created at import, before the config
    with bind(request_id="req-4"):
        logging.getLogger("uvicorn.error").info("Started server process [%d]", 1)
        existing.warning("dependency unavailable")
        logging.getLogger("uvicorn.access").info("GET / 200")  # ours replaces it
        logging.getLogger("httpx").info("HTTP Request: GET https://x/?token=1")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(e["logger"], e["service"], e["request_id"]) for e in lines] == [
        ("uvicorn.error", "tally", "req-4"),
        ("sirekap.web", "tally", "req-4"),
    ]


@pytest.mark.usefixtures("restore_logging")
def test_uvicorn_does_not_log_an_exception_the_middleware_logged(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logging.config.dictConfig(logging_config("ingest"))
    seen, fresh = RuntimeError("seen"), RuntimeError("fresh")
    mark_logged(seen)
    for exc in (seen, fresh):
        logging.getLogger("uvicorn.error").error("Exception in ASGI application", exc_info=exc)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert len(lines) == 1 and "RuntimeError: fresh" in lines[0]["exc_info"]


class _Capture:
    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(JsonFormatter("test"))

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]


@pytest.fixture
def captured() -> Iterator[_Capture]:
    capture = _Capture()
    loggers = [logging.getLogger("sirekap.access"), logging.getLogger("sirekap.web")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(capture.handler)
        logger.setLevel(logging.DEBUG)
    yield capture
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(capture.handler)
        logger.setLevel(level)


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    install_request_ids(app, redact_prefixes=("/v1/tus/",))

    @app.get("/missing")
    async def missing() -> None:
        raise NotFound("no such thing")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("kaboom")

    @app.get("/v1/tus/{upload_id}")
    async def tus(upload_id: str) -> dict[str, str]:
        return {"id": upload_id}

    return app


async def test_an_unhandled_error_is_a_json_500_with_the_id_and_one_logged_traceback(
    captured: _Capture,
) -> None:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get("/boom", headers={"X-Request-Id": "req-500"})
    assert response.status_code == 500
    assert response.headers["X-Request-Id"] == "req-500"
    body = response.json()
    assert body["error"] == "InternalError" and body["request_id"] == "req-500"
    assert body["detail"] and body["detail_id"]
    error, access = captured.entries()
    assert (error["logger"], error["level"], error["request_id"]) == (
        "sirekap.web",
        "ERROR",
        "req-500",
    )
    assert "RuntimeError: kaboom" in error["exc_info"]
    assert (access["status"], access["path"], access["request_id"]) == (500, "/boom", "req-500")


async def test_refusals_carry_the_id_and_capabilities_in_paths_are_cut(
    captured: _Capture,
) -> None:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        missing = await http.get("/missing?sha256=abc")
        upload = await http.get("/v1/tus/0123456789abcdef0123456789abcdef")
    assert missing.json()["request_id"] == missing.headers["X-Request-Id"]
    assert set(missing.json()) == {"error", "detail", "detail_id", "request_id"}
    first, second = captured.entries()
    assert first["path"] == "/missing"  # never the query string
    assert (first["method"], first["status"]) == ("GET", 404)
    assert isinstance(first["duration_ms"], float)
    assert second["path"] == "/v1/tus/01234567..."
    assert upload.json()["id"] == "0123456789abcdef0123456789abcdef"
    assert current_request_id() is None  # unbound once the request is over
