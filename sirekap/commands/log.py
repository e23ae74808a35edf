"""`sirekap log …`: operate the audit log beside the database.

sirekap log key          # print the log's verifier key, to publish to auditors and witnesses
sirekap log sequence     # run the sequencer alone (a service normally runs it in-process)
sirekap log checkpoint   # integrate what is pending and sign a checkpoint now
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

import typer

from shared.audit.config import LogConfig
from shared.audit.sequencer import Sequencer
from shared.db.engine import database_from_settings
from shared.logs import configure_logging
from shared.settings import get_settings

app = typer.Typer(help="The audit log: its key, the sequencer, checkpoints.")


@app.command()
def key() -> None:
    """Print the log's verifier key (generating the embedded default's key if needed)."""
    typer.echo(LogConfig.from_settings(get_settings()).signer.vkey())


@app.command()
def sequence() -> None:
    """Run the sequencer until interrupted; replicas share the work through the lease."""
    configure_logging("sequencer", get_settings())
    asyncio.run(_sequence())


@app.command()
def checkpoint() -> None:
    """Integrate every pending event and print the signed checkpoint."""
    typer.echo(asyncio.run(_checkpoint()), nl=False)


async def _sequence() -> None:
    settings = get_settings()
    db = database_from_settings(settings)
    sequencer = Sequencer(db, LogConfig.from_settings(settings))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, sequencer.stop)
    try:
        await sequencer.run()
    finally:
        await db.dispose()


async def _checkpoint() -> str:
    settings = get_settings()
    db = database_from_settings(settings)
    try:
        sequencer = Sequencer(db, LogConfig.from_settings(settings))
        await sequencer.integrate_all()
        return (await sequencer.checkpoint()).note
    finally:
        await db.dispose()
