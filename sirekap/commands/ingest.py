"""`sirekap ingest …`: run the ingest service."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from shared.settings import get_settings

app = typer.Typer(help="The ingest service: signed photo uploads from KPPS devices.")


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
) -> None:
    """Serve the ingest API."""
    settings = get_settings()
    uvicorn.run(
        "services.ingest.app:create_app",
        factory=True,
        host=host or settings.ingest_host,
        port=port or settings.ingest_port,
        workers=workers,
        log_level="warning",
        timeout_keep_alive=30,
    )
