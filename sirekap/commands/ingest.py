"""`sirekap ingest …`: run the ingest service."""

from __future__ import annotations

from typing import Annotated

import typer

from shared.settings import get_settings
from sirekap.commands.serving import serve_app

app = typer.Typer(help="The ingest service: signed photo uploads from KPPS devices.")


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
) -> None:
    """Serve the ingest API."""
    settings = get_settings()
    serve_app(
        "services.ingest.app:create_app",
        service="ingest",
        host=host or settings.ingest_host,
        port=port or settings.ingest_port,
        workers=workers,
    )
