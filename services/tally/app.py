"""The tally service: results up the hierarchy, review and correction, dashboards, public JSON.

    from services.tally.app import create_app
    app = create_app(settings)          # uvicorn services.tally.app:app for the defaults

Engines, the object store and the region index are built in the lifespan; the audit log's
routes (`services.tally.log_api`) are mounted when that module is present.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from sqlalchemy import text

from services.tally import metrics as pipeline_metrics
from services.tally.auth import endpoints as auth_endpoints
from services.tally.dashboard import endpoints as dashboard_endpoints
from services.tally.export import endpoints as export_endpoints
from services.tally.export.files import ExportFiles
from services.tally.public import photos, sirekap
from services.tally.regions import RegionIndex
from services.tally.results import endpoints as results_endpoints
from services.tally.results.hot import HotReads
from services.tally.review import endpoints as review_endpoints
from services.tally.state import TallyState
from shared import metrics
from shared.db.engine import database_from_settings
from shared.ratelimit import Limits, install_rate_limits, sign_in_routes
from shared.settings import Settings, get_settings
from shared.storage import open_store
from shared.web import (
    install_body_limit,
    install_error_handlers,
    install_header_limits,
    install_request_ids,
)

log = logging.getLogger("sirekap.tally")

try:  # the audit log's HTTP API is another engineer's module; mount it when it is there
    from services.tally.log_api import log_router
    from shared.audit.runtime import running_log
except ImportError:  # pragma: no cover - depends on what is installed
    log_router = None  # type: ignore[assignment]
    running_log = None  # type: ignore[assignment]


def auth_secret_of(settings: Settings) -> str:
    """The configured secret; in development one kept in the data folder, so the ingest and
    tally processes of `make run` (and restarts) accept each other's tokens."""
    if settings.auth_secret:
        return settings.auth_secret
    path = Path(settings.data_dir) / "auth_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def create_app(settings: Settings | None = None, *, run_sequencer: bool = True) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            db = database_from_settings(settings)
            stack.push_async_callback(db.dispose)
            store = await open_store(settings)
            stack.push_async_callback(store.close)
            regions = RegionIndex(db)
            await regions.load()
            hot = await HotReads.open(db, settings.resolved_database_url, settings.db_pool_size)
            stack.push_async_callback(hot.close)
            exports = ExportFiles(db)
            stack.callback(exports.close)
            app.state.tally = TallyState(
                settings=settings,
                db=db,
                store=store,
                regions=regions,
                hot=hot,
                auth_secret=auth_secret_of(settings),
                exports=exports,
            )
            await stack.enter_async_context(pipeline_metrics.refreshing(db))
            if log_router is not None and running_log is not None:
                app.state.log = await stack.enter_async_context(
                    running_log(settings, db, sequence=run_sequencer)
                )
            yield

    app = FastAPI(
        title="Sirekap tally",
        version="1.0",
        summary="Results up the hierarchy, review and correction, dashboards, public JSON.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    install_body_limit(app)  # reviews and sign-ins are small JSON; cosignatures smaller
    # Password sign-in is the one endpoint that guards a secret: per-address token bucket,
    # the same rule as device enrolment (60 at once, then 30 a minute).
    install_rate_limits(app, sign_in_routes(Limits.from_settings(settings)))
    install_header_limits(app)  # an oversized head is refused before any route runs
    # Outermost: every response, refusals above included, carries an id and is logged.
    install_request_ids(app)
    for router in (
        auth_endpoints.router,
        results_endpoints.router,
        review_endpoints.router,
        export_endpoints.router,
        sirekap.router,
        photos.router,
        dashboard_endpoints.router,
        metrics.router,
    ):
        app.include_router(router)
    if log_router is not None:
        app.include_router(log_router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, Any]:
        return {"ok": True}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> dict[str, Any]:
        """Ready when the database and the object store answer (a load balancer asks this)."""
        state = request.app.state.tally
        async with state.db.reading() as session:
            await session.execute(text("SELECT 1"))
        await state.store.check()
        return {"ok": True}

    return app
