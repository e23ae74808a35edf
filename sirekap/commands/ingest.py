"""`sirekap ingest …`: run the ingest service."""

from __future__ import annotations

import typer

from sirekap.commands.serving import add_serve_command

app = typer.Typer(help="The ingest service: signed photo uploads from KPPS devices.")


add_serve_command(
    app,
    factory="services.ingest.app:create_app",
    service="ingest",
    address=lambda s: (s.ingest_host, s.ingest_port),
    help_text="Serve the ingest API.",
)
