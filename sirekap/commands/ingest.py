"""`sirekap ingest …`: run the ingest service and its housekeeping."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from dataclasses import asdict
from datetime import timedelta
from typing import Annotated

import typer

from services.ingest.sweeper import sweep, sweep_every
from shared.db.engine import database_from_settings
from shared.logs import configure_logging
from shared.settings import get_settings
from shared.storage import open_store
from sirekap.commands.serving import add_serve_command

app = typer.Typer(help="The ingest service: signed photo uploads from KPPS devices.")


add_serve_command(
    app,
    factory="services.ingest.app:create_app",
    service="ingest",
    address=lambda s: (s.ingest_host, s.ingest_port),
    help_text="Serve the ingest API.",
)


@app.command("sweep")
def sweep_command(
    every: Annotated[
        float, typer.Option(help="Repeat every this many seconds (0: one pass, then exit)")
    ] = 0,
    photos_every: Annotated[
        float,
        typer.Option(
            help="When repeating, look for orphan photos at most this often, in seconds "
            "(it lists every photo)"
        ),
    ] = 24 * 3600,
) -> None:
    """Remove abandoned resumable uploads, stray chunks and photos no submission refers to."""
    configure_logging("sweeper", get_settings())
    result = asyncio.run(_sweep(every, photos_every))
    if result is not None:
        typer.echo(result)


async def _sweep(every: float, photos_every: float) -> str | None:
    settings = get_settings()
    db = database_from_settings(settings)
    store = await open_store(settings)
    try:
        if every <= 0:
            return json.dumps(asdict(await sweep(db, store)))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await sweep_every(
            db,
            store,
            every=timedelta(seconds=every),
            photos_every=timedelta(seconds=photos_every),
            stop=stop,
        )
        return None
    finally:
        await store.close()
        await db.dispose()
