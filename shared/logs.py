"""Structured logs: one JSON object per line on stderr, with the request or job it belongs to.

    configure_logging("ingest", settings)     # once, at a service's entry point
    log.info("photo stored", extra={"sha256": sha})
    with bind(job_id=job.id, submission_id=sid):
        ...                                   # every line inside carries both fields

Each line has `ts` (UTC, RFC 3339), `level`, `logger`, `msg`, `service`, `request_id` (null
outside a request), the fields bound with `bind` and the record's `extra`, and `exc_info` (the
traceback as one string) when there is one. `SIREKAP_LOG_FORMAT=text` prints the same as one
human-readable line instead (`sirekap run`'s console); `SIREKAP_LOG_LEVEL` sets the level.

Fields whose names look like credentials (authorization, token, secret, password, signature,
cookie, private_key, enrolment_code) are written as "[redacted]": never log them on purpose,
and this catches the accident.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import logging.config
import re
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from shared.settings import LogSettings

_NO_FIELDS: Mapping[str, Any] = MappingProxyType({})
_FIELDS: ContextVar[Mapping[str, Any]] = ContextVar("sirekap_log_fields", default=_NO_FIELDS)

# What a LogRecord carries by itself; anything else on a record came in through `extra`.
_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's copy of the message with ANSI colours
}
_SECRET_KEY = re.compile(
    r"authorization|token|secret|password|passwd|signature|cookie|private_key|enrolment_code",
    re.IGNORECASE,
)
REDACTED = "[redacted]"

# An incoming X-Request-Id is kept only if it is short and plain: it lands in every log line
# and in response headers, so nothing that could split a line or a header, or bloat either.
MAX_REQUEST_ID = 64
_SANE_REQUEST_ID = re.compile(rf"[A-Za-z0-9._:-]{{1,{MAX_REQUEST_ID}}}")


def sane_request_id(sent: str | bytes | None) -> str:
    """The client's request id if it is sane, else a fresh one."""
    if isinstance(sent, bytes):
        sent = sent.decode("latin-1")
    if sent and _SANE_REQUEST_ID.fullmatch(sent):
        return sent
    return uuid.uuid4().hex


def current_fields() -> Mapping[str, Any]:
    return _FIELDS.get()


def current_request_id() -> str | None:
    value = _FIELDS.get().get("request_id")
    return str(value) if value is not None else None


def bind_fields(**fields: Any) -> Token[Mapping[str, Any]]:
    """Add fields to every log line of this context; undo with `unbind(token)`."""
    return _FIELDS.set({**_FIELDS.get(), **fields})


def unbind(token: Token[Mapping[str, Any]]) -> None:
    _FIELDS.reset(token)


@contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Every log line written inside (in this task, and tasks it starts) carries `fields`."""
    token = bind_fields(**fields)
    try:
        yield
    finally:
        unbind(token)


@functools.lru_cache(maxsize=1024)
def _is_secret(key: str) -> bool:
    return _SECRET_KEY.search(key) is not None


def _redact(key: str, value: Any) -> Any:
    return REDACTED if _is_secret(key) else value


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The context's bound fields, then the record's own extras (which win)."""
    fields = {k: _redact(k, v) for k, v in _FIELDS.get().items() if k != "request_id"}
    for key, value in vars(record).items():
        if key not in _RECORD_ATTRS and not key.startswith("_"):
            fields[key] = _redact(key, value)
    return fields


def rfc3339(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines inside values are escaped)."""

    def __init__(self, service: str = "sirekap") -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None) or current_request_id()
        payload: dict[str, Any] = {
            "ts": rfc3339(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "service": self.service,
            "request_id": request_id,
        }
        for key, value in record_fields(record).items():
            payload.setdefault(key, value)
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            payload["exc_info"] = record.exc_text
        if record.stack_info:
            payload["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(payload, default=str, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """`01:50:34.123Z INFO  ingest sirekap.access: GET /v1/uploads 201 [ab12cd34] k=v ...`."""

    def __init__(self, service: str = "sirekap") -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        ts = rfc3339(record.created)[11:]
        request_id = getattr(record, "request_id", None) or current_request_id()
        message = record.getMessage()
        line = f"{ts} {record.levelname:<5} {self.service} {record.name}: {message}"
        if request_id:
            line += f" [{request_id}]"
        said = set(message.split())  # "GET /x 404" needs no method=GET path=/x status=404
        fields = {
            k: v
            for k, v in record_fields(record).items()
            if k != "request_id" and str(v) not in said
        }
        if fields:
            line += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.exc_text:
            line += "\n" + record.exc_text
        return line


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at the time (as `logging.lastResort` does), so a
    test runner's or CLI runner's capture sees the lines."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: TextIO) -> None:
        pass


class NotLoggedTwice(logging.Filter):
    """Drops a record whose exception was already logged with its request id (by
    `shared.web.RequestIdMiddleware`), so uvicorn's 'Exception in ASGI application' does not
    print the same traceback a second time without one."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not getattr(exc, "_sirekap_logged", False)


def mark_logged(exc: BaseException) -> None:
    with contextlib.suppress(AttributeError):  # an exception class with __slots__
        exc._sirekap_logged = True  # type: ignore[attr-defined]


def logging_config(service: str, *, fmt: str = "json", level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` for a service: the root logger and uvicorn's loggers
    write through one formatter to stderr; uvicorn's access log is off (ours replaces it)."""
    formatter = JsonFormatter if fmt == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,  # module loggers exist before this runs
        "formatters": {
            "sirekap": {"()": f"{__name__}.{formatter.__name__}", "service": service},
        },
        "filters": {"not_logged_twice": {"()": f"{__name__}.NotLoggedTwice"}},
        "handlers": {
            "stderr": {"()": f"{__name__}.StderrHandler", "formatter": "sirekap"},
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level, "filters": ["not_logged_twice"]},
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            # httpx logs every request's full URL at INFO; its warnings are enough.
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
        },
    }


def configure_logging(service: str, settings: LogSettings | None = None) -> dict[str, Any]:
    """Configure this process's logging from `SIREKAP_LOG_FORMAT` and `SIREKAP_LOG_LEVEL`;
    returns the dictConfig (uvicorn takes it as `log_config` for its worker processes)."""
    if settings is None:
        from shared.settings import LogSettings

        settings = LogSettings()
    config = logging_config(service, fmt=settings.log_format, level=settings.log_level)
    logging.config.dictConfig(config)
    return config


__all__ = [
    "JsonFormatter",
    "TextFormatter",
    "bind",
    "bind_fields",
    "configure_logging",
    "current_request_id",
    "logging_config",
    "sane_request_id",
    "unbind",
]
