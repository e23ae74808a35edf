"""`sirekap db …`, `sirekap regions …`, `sirekap devices …`: operations run beside the database."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from services.ingest.enrolment import issue_code
from shared.db.engine import database_from_settings
from shared.db.migrate import upgrade
from shared.reference.load import DEMO_KABUPATEN, load_reference
from shared.settings import get_settings

db_app = typer.Typer(help="Database schema.")
regions_app = typer.Typer(help="Reference data: regions and TPS.")
devices_app = typer.Typer(help="KPPS devices: enrolment codes.")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration (SQLite or PostgreSQL, from SIREKAP_DATABASE_URL)."""
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    typer.echo("database is at the newest schema")


@regions_app.command("load")
def regions_load(
    scope: Annotated[
        str, typer.Option(help="Dotted region code (17.08, 17, …) or 'all' for the country")
    ] = DEMO_KABUPATEN,
) -> None:
    """Load Kemendagri regions and the synthetic TPS list for a region or the whole country."""

    async def run() -> None:
        db = database_from_settings(get_settings())
        try:
            report = await load_reference(db, None if scope == "all" else scope)
        finally:
            await db.dispose()
        typer.echo(f"{report.regions:,} regions, {report.tps:,} TPS, {report.voters:,} voters")

    asyncio.run(run())


@devices_app.command("issue-code")
def devices_issue_code(
    tps: Annotated[str, typer.Option(help="13-digit TPS code")],
    by: Annotated[str, typer.Option(help="Who issues it (kept in the record)")] = "operator",
) -> None:
    """Issue a one-time enrolment code for a TPS (operators; officials use the API)."""
    settings = get_settings()

    async def run() -> str:
        db = database_from_settings(settings)
        try:
            async with db.transaction() as session:
                code, _ = await issue_code(
                    session, tps_code=tps, issued_by=by, ttl_s=settings.enrolment_code_ttl_s
                )
        finally:
            await db.dispose()
        return code

    typer.echo(asyncio.run(run()))
