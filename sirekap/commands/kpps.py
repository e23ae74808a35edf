"""`sirekap kpps …`: the reference KPPS client as a command line, for operators in the field."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import httpx
import typer

from clients.kpps.client import KppsClient, UploadRefused, enroll
from clients.kpps.profile import Profile, default_profile_path

app = typer.Typer(help="The reference KPPS client: enrol this device, upload photos.")

ProfileOpt = Annotated[Path | None, typer.Option(help="Where the device's key is kept.")]


@app.command("enroll")
def enroll_command(
    tps: Annotated[str, typer.Option(help="13-digit TPS code")],
    code: Annotated[str, typer.Option(help="One-time enrolment code from the PPS")],
    server: Annotated[str, typer.Option(help="Ingest URL")] = "http://127.0.0.1:8001",
    label: Annotated[str, typer.Option(help="A name for this device")] = "",
    profile: ProfileOpt = None,
) -> None:
    """Create this device's key and enrol it for one TPS."""
    path = profile or default_profile_path()
    try:
        enrolled = asyncio.run(enroll(server, tps, code, label=label))
    except UploadRefused as exc:
        typer.echo(f"Pendaftaran ditolak / enrolment refused: {exc}", err=True)
        raise typer.Exit(1) from exc
    enrolled.save(path)
    typer.echo(json.dumps({"device_id": enrolled.device_id, "tps": tps, "profile": str(path)}))


@app.command("upload")
def upload_command(
    photo: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    contest: Annotated[str, typer.Option(help="PPWP, DPR, DPD, DPRD_PROV or DPRD_KABKOTA")],
    page: Annotated[int, typer.Option(help="Page number on the form")],
    tps: Annotated[str | None, typer.Option(help="Must match the enrolled TPS")] = None,
    single: Annotated[bool, typer.Option(help="One request instead of tus")] = False,
    profile: ProfileOpt = None,
) -> None:
    """Sign and upload one photo; resumes and retries until the server has it."""
    path = profile or default_profile_path()
    device = Profile.load(path)
    if tps is not None and tps != device.tps:
        typer.echo(f"This device is enrolled for TPS {device.tps}, not {tps}.", err=True)
        raise typer.Exit(2)
    data = photo.read_bytes()

    async def run() -> dict[str, object]:
        async with httpx.AsyncClient(base_url=device.server, timeout=60) as http:
            client = KppsClient(device, http, state_dir=path.parent / "uploads")
            if single:
                return await client.upload_single(data, contest=contest, page=page)
            return await client.upload(data, contest=contest, page=page)

    try:
        receipt = asyncio.run(run())
    except UploadRefused as exc:
        typer.echo(f"Foto ditolak / photo refused: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(json.dumps(receipt, indent=2))
