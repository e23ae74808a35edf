"""The ingest service: KPPS phones post signed photos here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from services.ingest import endpoints, tus, uploads
from services.ingest.state import IngestState
from shared import metrics
from shared.db.engine import database_from_settings
from shared.ratelimit import install_ingest_rate_limits
from shared.settings import Settings, get_settings
from shared.storage import open_store
from shared.web import (
    install_body_limit,
    install_error_handlers,
    install_header_limits,
    install_request_ids,
)


def create_app(settings: Settings | None = None, *, bench_endpoints: bool = False) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = database_from_settings(settings)
        store = await open_store(settings)
        app.state.ingest = IngestState(settings=settings, db=db, store=store)
        try:
            yield
        finally:
            await store.close()
            await db.dispose()

    app = FastAPI(
        title="Sirekap ingest",
        version="1.0",
        summary="Signed, resumable, idempotent photo uploads from KPPS devices.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    install_body_limit(app, exempt=("/v1/uploads", "/v1/tus", "/bench/"))  # photos: own limit
    install_ingest_rate_limits(app, settings)  # inside request ids: a 429 carries one too
    install_header_limits(app)  # an oversized head is refused before any route runs
    # Outermost: every response, refusals above included, carries an id and is logged.
    # A tus upload id in a path is a capability: only its first characters are logged.
    install_request_ids(app, redact_prefixes=("/v1/tus/",))
    app.include_router(uploads.router)
    app.include_router(tus.router)
    app.include_router(endpoints.router)
    app.include_router(endpoints.health)
    app.include_router(metrics.router)
    if bench_endpoints:
        _install_bench_endpoint(app)
    return app


def _install_bench_endpoint(app: FastAPI) -> None:
    """The baseline of `benchmarks.ingest`: read the body and throw it away, nothing else."""

    @app.post("/bench/discard", include_in_schema=False)
    async def discard(request: Request) -> dict[str, int]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return {"size": size}
