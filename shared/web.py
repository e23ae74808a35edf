"""What every FastAPI service shares: the JSON error shape, request ids, health endpoints.

Every refusal is `{"error": "<ClassName>", "detail": "<English>", "detail_id": "<Bahasa>"}`
with a 4xx status; a dependency that is down (database, object store) answers 503 with
Retry-After rather than 500, so clients back off and retry.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from shared.errors import SirekapError
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


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SirekapError)
    async def _sirekap(_: Request, exc: SirekapError) -> JSONResponse:
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

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    @app.exception_handler(ConnectionError)
    @app.exception_handler(StorageUnavailable)
    async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
        log.warning("dependency unavailable: %s", exc)
        return error_response(
            503,
            "ServiceUnavailable",
            "a dependency is unavailable; retry later",
            "Layanan sedang tidak tersedia; coba lagi sebentar lagi.",
            headers={"Retry-After": RETRY_AFTER_S},
        )


def install_request_ids(app: FastAPI) -> None:
    @app.middleware("http")
    async def _request_id(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request_id = request.headers.get("x-request-id", "")[:64] or uuid.uuid4().hex
        request.state.request_id = request_id
        response = await call_next(request)
        response.headers["X-Request-Id"] = request_id
        return response
