"""`sirekap tally …`: serve the tally, recount it, add officials, export results."""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from services.tally.auth.service import add_official
from services.tally.export.stream import Format, export_lines
from services.tally.results.recompute import recompute as recount
from shared.auth import Role
from shared.contests import Contest
from shared.db.engine import database_from_settings
from shared.settings import get_settings
from sirekap.commands.serving import add_serve_command

app = typer.Typer(help="The tally: results, review, dashboards, public JSON.")
officials_app = typer.Typer(help="Officials who sign in to review and correct.")
app.add_typer(officials_app, name="officials")


add_serve_command(
    app,
    factory="services.tally.app:create_app",
    service="tally",
    address=lambda s: (s.tally_host, s.tally_port),
    help_text="Serve the tally API, the public Sirekap JSON and the dashboard (/dashboard/).",
)


@app.command("recompute")
def recompute(
    repair: Annotated[
        bool, typer.Option(help="Replace the running totals with the recount")
    ] = False,
) -> None:
    """Recount every total from the accepted values and prove the stored totals equal.

    Exits 1 (listing the differences) when they do not.
    """

    async def run() -> int:
        db = database_from_settings(get_settings())
        try:
            report = await recount(db, repair=repair)
        finally:
            await db.dispose()
        for m in report.mismatches:
            typer.echo(
                f"MISMATCH {m['scope']} {m['contest']} {m['key']}: "
                f"recount {m['recount']} stored {m['stored']}",
                err=True,
            )
        summary = {
            "equal": report.equal,
            "scopes": report.scopes,
            "values": report.values,
            "mismatches": len(report.mismatches),
            "seconds": round(report.seconds, 3),
            "repaired": repair,
        }
        typer.echo(json.dumps(summary))
        return 0 if report.equal else 1

    raise typer.Exit(asyncio.run(run()))


@officials_app.command("add")
def officials_add(
    username: str,
    role: Annotated[Role, typer.Option(help="PPS, PPK, KPU_KABKOTA, KPU_PROV, KPU, AUDITOR")],
    region: Annotated[str, typer.Option(help="Dotted region code; 00 for national roles")],
    password: Annotated[
        str | None, typer.Option(help="Read from the terminal when omitted")
    ] = None,
) -> None:
    """Add an official who signs in with a username and password (stored scrypt-hashed)."""
    secret = password or getpass.getpass("Kata sandi / Password: ")

    async def run() -> None:
        db = database_from_settings(get_settings())
        try:
            async with db.transaction() as session:
                await add_official(
                    session, username=username, password=secret, role=role, region=region
                )
        finally:
            await db.dispose()

    asyncio.run(run())
    typer.echo(f"added {role} {username} for {region}")


@app.command("export")
def export(
    fmt: Annotated[Format, typer.Option("--format", help="csv or jsonl")] = "jsonl",
    contest: Annotated[Contest | None, typer.Option()] = None,
    output: Annotated[Path | None, typer.Option("-o", help="File; stdout when omitted")] = None,
) -> None:
    """Write every TPS's counted result (CSV long form, or JSON Lines)."""

    async def run() -> None:
        db = database_from_settings(get_settings())
        out = output.open("w", encoding="utf-8") if output else sys.stdout
        try:
            async for chunk in export_lines(db, fmt, contest.value if contest else None):
                out.write(chunk)
        finally:
            if output:
                out.close()
            await db.dispose()

    asyncio.run(run())
