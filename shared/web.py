"""What every FastAPI service shares: the JSON error shape, request ids, health endpoints.

Every refusal is `{"error": "<ClassName>", "detail": "<English>", "detail_id": "<Bahasa>"}`
with a 4xx status, plus the `request_id` the response's `X-Request-Id` header carries (the key
to its log lines); a dependency that is down (database, object store) answers 503 with
Retry-After rather than 500, so clients back off and retry.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import SirekapError
from shared.logs import bind_fields, current_request_id, mark_logged, sane_request_id, unbind
from shared.metrics import REFUSALS, UNAVAILABLE
from shared.storage.base import StorageUnavailable

log = logging.getLogger("sirekap.web")
access_log = logging.getLogger("sirekap.access")
RETRY_AFTER_S = "5"

_STATUS_ID = {
    400: "Permintaan tidak valid.",
    401: "Autentikasi diperlukan.",
    403: "Akses ditolak.",
    404: "Tidak ditemukan.",
    405: "Metode tidak diizinkan.",
    413: "Berkas terlalu besar.",
    415: "Jenis berkas tidak didukung.",
    422: "Isi permintaan tidak valid.",
}


def error_response(
    status: int,
    error: str,
    detail: str,
    detail_id: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {"error": error, "detail": detail, "detail_id": detail_id, **extra}
    return JSONResponse(with_request_id(body), status_code=status, headers=headers)


def with_request_id(body: dict[str, Any]) -> dict[str, Any]:
    """The error body with the request's id (when inside one), to quote when reporting it."""
    request_id = current_request_id()
    if request_id is not None and "request_id" not in body:
        body["request_id"] = request_id
    return body


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def _unstorable() -> JSONResponse:
    return error_response(
        422,
        "UnstorableValue",
        "the request holds a value the database cannot store (a NUL byte in text, "
        "a number out of range)",
        "Permintaan berisi nilai yang tidak dapat disimpan.",
    )


def _is_bad_input(exc: Exception) -> bool:
    """PostgreSQL's class 22 (data exception: a NUL byte in text, a number out of range) is
    the request's fault, not an outage: a 503 would have clients retry it forever."""
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return isinstance(exc, DBAPIError) and isinstance(code, str) and code.startswith("22")


# What every refusal looks like; FastAPI's default 422 schema (`detail` as a list) is not it.
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error", "detail", "detail_id"],
    "properties": {
        "error": {"type": "string"},
        "detail": {"type": "string", "description": "English, for developers"},
        "detail_id": {"type": "string", "description": "Bahasa Indonesia, shown to the user"},
        "request_id": {"type": "string", "description": "as in the X-Request-Id header"},
    },
}


def _document_error_shape(app: FastAPI) -> None:
    """Make the OpenAPI document say what the handlers below answer (found by schemathesis)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        components = schema.get("components", {}).get("schemas", {})
        if "HTTPValidationError" in components:
            components["HTTPValidationError"] = ERROR_SCHEMA
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_error_handlers(app: FastAPI) -> None:
    _document_error_shape(app)

    @app.exception_handler(SirekapError)
    async def _sirekap(_: Request, exc: SirekapError) -> JSONResponse:
        if exc.status_code < 500:
            REFUSALS.labels(type(exc).__name__).inc()
        return JSONResponse(
            with_request_id(exc.to_json()), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(
            422, "ValidationError", _validation_detail(exc), "Isi permintaan tidak valid."
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(
            exc.status_code,
            "HTTPError",
            str(exc.detail),
            _STATUS_ID.get(exc.status_code, "Permintaan ditolak."),
            headers=dict(exc.headers or {}),
        )

    @app.exception_handler(OverflowError)
    async def _overflow(_: Request, exc: OverflowError) -> JSONResponse:
        # SQLite's driver refuses integers beyond 64 bits with this, before any SQL runs: the
        # embedded backend's twin of PostgreSQL's class 22 below.
        if "SQLite INTEGER" not in str(exc):
            raise exc
        REFUSALS.labels("UnstorableValue").inc()
        return _unstorable()

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    @app.exception_handler(ConnectionError)
    @app.exception_handler(StorageUnavailable)
    async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
        if _is_bad_input(exc):
            REFUSALS.labels("UnstorableValue").inc()
            return _unstorable()
        log.warning("dependency unavailable: %s", exc)
        UNAVAILABLE.inc()
        return error_response(
            503,
            "ServiceUnavailable",
            "a dependency is unavailable; retry later",
            "Layanan sedang tidak tersedia; coba lagi sebentar lagi.",
            headers={"Retry-After": RETRY_AFTER_S},
        )


# Probes and scrapes: logged at DEBUG, or they would be most of the log.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def _internal_error() -> JSONResponse:
    return error_response(
        500,
        "InternalError",
        "an unexpected error occurred; it is logged under this request id",
        "Terjadi kesalahan pada server.",
    )


class RequestIdMiddleware:
    """Tags each request, its response (`X-Request-Id`) and every log line written while it
    runs with a request id, and writes one access log line per request.

    The client's `X-Request-Id` is kept when it is sane (at most 64 of `A-Za-z0-9._:-`; nginx
    sends its `$request_id`), else replaced by a fresh one. The access line has method, path
    (never the query string), status, duration_ms and the client's address; under
    `redact_prefixes` the next path segment is a capability (a tus upload id lets anyone append
    to or abandon the upload) and only its first 8 characters are logged. An exception that
    escapes the app is logged here with the request id and answered with a JSON 500.

    A plain ASGI middleware: Starlette's `BaseHTTPMiddleware` re-queues every body chunk
    through a task, which cost a measurable share of a 1 MiB upload's CPU time.
    """

    def __init__(self, app: ASGIApp, *, redact_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.redact_prefixes = redact_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = next((v for k, v in scope.get("headers") or () if k == b"x-request-id"), None)
        request_id = sane_request_id(sent)
        scope.setdefault("state", {})["request_id"] = request_id
        token = bind_fields(request_id=request_id)
        started = time.perf_counter()
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = MutableHeaders(scope=message)
                headers["X-Request-Id"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            log.error("unhandled error", exc_info=exc, extra=self._where(scope))
            mark_logged(exc)  # uvicorn logs it again, without the id: see shared.logs
            if status is None:
                with contextlib.suppress(Exception):  # the client may be gone
                    await _internal_error()(scope, receive, send_with_id)
            raise  # servers and test clients still see it, as without this middleware
        finally:
            self._log_access(scope, status, started)
            unbind(token)

    def _where(self, scope: Scope) -> dict[str, Any]:
        path = scope.get("path", "")
        for prefix in self.redact_prefixes:
            if path.startswith(prefix):
                head, _, tail = path[len(prefix) :].partition("/")
                if len(head) > 8:
                    head = head[:8] + "..."
                path = prefix + head + ("/" + tail if tail else "")
                break
        return {"method": scope.get("method"), "path": path}

    def _log_access(self, scope: Scope, status: int | None, started: float) -> None:
        if status is not None and status >= 500:
            level = logging.ERROR
        elif scope.get("path") in QUIET_PATHS:
            level = logging.DEBUG
        else:
            level = logging.INFO
        if not access_log.isEnabledFor(level):
            return
        where = self._where(scope)
        client = scope.get("client")
        access_log.log(
            level,
            "%s %s %s",
            where["method"],
            where["path"],
            status,
            extra={
                **where,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "client": client[0] if client else None,
            },
        )


def install_request_ids(app: FastAPI, *, redact_prefixes: tuple[str, ...] = ()) -> None:
    """Install outermost (add it last), so every response and log line, refusals by the
    other middlewares included, carries the request id."""
    app.add_middleware(RequestIdMiddleware, redact_prefixes=redact_prefixes)


# uvicorn's h11 parser only bounds headers that arrive in several reads (16 KiB); headers that
# arrive in one read pass at any size (a 20 KB header and 2,000 headers were both served).
MAX_HEADER_BYTES = 16 * 1024
MAX_HEADER_COUNT = 100
MAX_TARGET_BYTES = 8 * 1024  # path + query: a claim's query string is ~200 bytes


class HeaderLimitMiddleware:
    """Refuses oversized request heads with JSON (431 / 414) before any route runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers") or ()
        size = sum(len(k) + len(v) + 4 for k, v in headers)
        target = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        response: JSONResponse | None = None
        if len(headers) > MAX_HEADER_COUNT or size > MAX_HEADER_BYTES:
            response = error_response(
                431,
                "HeadersTooLarge",
                f"request headers exceed {MAX_HEADER_COUNT} fields or {MAX_HEADER_BYTES:,} bytes",
                "Header permintaan terlalu besar.",
            )
        elif target > MAX_TARGET_BYTES:
            response = error_response(
                414,
                "UriTooLong",
                f"the request target exceeds {MAX_TARGET_BYTES:,} bytes",
                "Alamat permintaan terlalu panjang.",
            )
        if response is None:
            await self.app(scope, receive, send)
        else:
            error = "HeadersTooLarge" if response.status_code == 431 else "UriTooLong"
            REFUSALS.labels(error).inc()
            await response(scope, receive, send)


def install_header_limits(app: FastAPI) -> None:
    app.add_middleware(HeaderLimitMiddleware)


# JSON bodies here are a few hundred bytes (an enrolment, a correction with a 500-character
# reason); FastAPI would otherwise buffer any size before validating, and uvicorn sets no cap.
MAX_JSON_BODY_BYTES = 64 * 1024


class BodyLimitMiddleware:
    """Refuses a body over `limit` with 413 JSON, by Content-Length or while it streams, except
    under `exempt` path prefixes (photo uploads, which enforce their own larger limit)."""

    def __init__(self, app: ASGIApp, *, limit: int, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.limit = limit
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            REFUSALS.labels("PayloadTooLarge").inc()
            await self._too_large()(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:  # chunked, or more than declared: FastAPI re-raises it
                    raise StarletteHTTPException(413, f"the body exceeds {self.limit:,} bytes")
            return message

        await self.app(scope, counting_receive, send)

    def _too_large(self) -> JSONResponse:
        return error_response(
            413,
            "PayloadTooLarge",
            f"the body exceeds {self.limit:,} bytes",
            "Isi permintaan terlalu besar.",
        )


def install_body_limit(
    app: FastAPI, limit: int = MAX_JSON_BODY_BYTES, exempt: tuple[str, ...] = ()
) -> None:
    app.add_middleware(BodyLimitMiddleware, limit=limit, exempt=exempt)
