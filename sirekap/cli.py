"""The `sirekap` command: one entry point that wires each part's sub-commands."""

from __future__ import annotations

import typer

from sirekap.commands import (
    admin,
    audit,
    forms,
    ingest,
    kpps,
    log,
    ocr,
    run,
    simulate,
    tally,
    witness,
)

app = typer.Typer(
    help="Count an election from photos of its tally forms.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("run")(run.run)
app.command("simulate")(simulate.simulate)
app.add_typer(ingest.app, name="ingest")
app.add_typer(ocr.app, name="ocr")
app.add_typer(tally.app, name="tally")
app.add_typer(log.app, name="log")
app.add_typer(witness.app, name="witness")
app.add_typer(audit.app, name="audit")
app.add_typer(kpps.app, name="kpps")
app.add_typer(forms.app, name="forms")
app.add_typer(admin.db_app, name="db")
app.add_typer(admin.regions_app, name="regions")
app.add_typer(admin.devices_app, name="devices")

if __name__ == "__main__":
    app()
