"""How every HTTP service is served: uvicorn over the app factory, one process per worker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
import uvicorn

from shared.logs import configure_logging
from shared.settings import Settings, get_settings

# Long enough for a phone on a weak link to send its next request on the same connection,
# short enough that idle connections do not pile up on a busy evening.
KEEP_ALIVE_S = 30


def serve_app(factory: str, *, service: str, host: str, port: int, workers: int) -> None:
    """Serve `factory` with structured logs (SIREKAP_LOG_FORMAT / SIREKAP_LOG_LEVEL).

    uvicorn's own loggers go through the same formatter (its worker processes apply the same
    `log_config`); its access log is off: `shared.web.RequestIdMiddleware` writes one with the
    request id instead.
    """
    settings = get_settings()
    log_config = configure_logging(service, settings)
    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=log_config,
        log_level=settings.log_level.lower(),
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_S,
    )


def add_serve_command(
    app: typer.Typer,
    *,
    factory: str,
    service: str,
    address: Callable[[Settings], tuple[str, int]],
    help_text: str,
) -> None:
    """Register `sirekap <service> serve` on `app`: host and port default to the service's
    settings (`address`), so each service names only what differs."""

    def serve(
        host: Annotated[str | None, typer.Option()] = None,
        port: Annotated[int | None, typer.Option()] = None,
        workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
    ) -> None:
        default_host, default_port = address(get_settings())
        serve_app(
            factory,
            service=service,
            host=host or default_host,
            port=port or default_port,
            workers=workers,
        )

    app.command("serve", help=help_text)(serve)
