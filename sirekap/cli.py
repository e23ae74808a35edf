"""The `sirekap` command: one entry point that wires each part's sub-commands."""

from __future__ import annotations

import typer

from sirekap.commands import admin, ingest, kpps, run

app = typer.Typer(
    help="Count an election from photos of its tally forms.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(ingest.app, name="ingest")
app.add_typer(kpps.app, name="kpps")
app.add_typer(admin.db_app, name="db")
app.add_typer(admin.regions_app, name="regions")
app.add_typer(admin.devices_app, name="devices")
app.command("run")(run.run)

if __name__ == "__main__":
    app()
