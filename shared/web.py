"""What every FastAPI service shares: the JSON error shape, request ids, health endpoints.

Every refusal is `{"error": "<ClassName>", "detail": "<English>", "detail_id": "<Bahasa>"}`
with a 4xx status; a dependency that is down (database, object store) answers 503 with
Retry-After rather than 500, so clients back off and retry.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import SirekapError
from shared.metrics import REFUSALS, UNAVAILABLE
from shared.storage.base import StorageUnavailable

log = logging.getLogger("sirekap.web")
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
    return JSONResponse(body, status_code=status, headers=headers)


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
        return JSONResponse(exc.to_json(), status_code=exc.status_code, headers=exc.headers)

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


class RequestIdMiddleware:
    """Tags each request and its response with `X-Request-Id` (kept if the client sent one).

    A plain ASGI middleware: Starlette's `BaseHTTPMiddleware` re-queues every body chunk
    through a task, which cost a measurable share of a 1 MiB upload's CPU time.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope.get("headers") or ()).get(b"x-request-id", b"")[:64]
        request_id = sent.decode("latin-1") if sent else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Request-Id"] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)


def install_request_ids(app: FastAPI) -> None:
    app.add_middleware(RequestIdMiddleware)


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
