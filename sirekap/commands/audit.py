"""`sirekap audit verify`: check the published log yourself.

    sirekap audit verify https://tally.example --log-key <vkey> --witness-key <vkey> \\
        --state audit-state.json --photos 50

Prints a report per culprit, then one JSON summary line; exits 0 only when everything holds,
1 when something does not, 2 when the keys given are unusable.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import httpx
import typer

from clients.auditor.client import LogClient
from clients.auditor.findings import Report
from clients.auditor.recount_log import LogRecount
from clients.auditor.verify import AuditOptions, run_audit
from shared.audit.cosignature import CosignatureVerifier
from shared.audit.note import Ed25519Verifier, NoteError

app = typer.Typer(help="Verify the audit log: signatures, every entry, history, photos.")


@app.callback()
def audit() -> None:
    """Verify the audit log (a group, so that `sirekap audit verify` keeps its name)."""


@app.command()
def verify(
    url: str,
    log_key: Annotated[str, typer.Option(help="the log's verifier key (vkey)")],
    witness_key: Annotated[
        list[str] | None, typer.Option(help="a witness's cosignature vkey; repeatable")
    ] = None,
    state: Annotated[
        Path | None, typer.Option(help="remember the verified tree here; check growth from it")
    ] = None,
    photos: Annotated[int, typer.Option(help="fetch and hash this many sampled photos")] = 0,
    photo_url: Annotated[
        str, typer.Option(help="photo path on the service; {sha256} is replaced")
    ] = "/photos/{sha256}",
    json_out: Annotated[Path | None, typer.Option("--json", help="also write the JSON")] = None,
    seed: Annotated[int | None, typer.Option(help="seed of the photo sample")] = None,
    recount: Annotated[
        bool,
        typer.Option(help="recount every total from the log and compare with the published ones"),
    ] = True,
) -> None:
    """Verify the log served at URL (and, unless --no-recount, recount its totals)."""
    try:
        options = AuditOptions(
            log_key=Ed25519Verifier.from_vkey(log_key),
            witness_keys=[CosignatureVerifier.from_vkey(k) for k in witness_key or []],
            state_path=state,
            photos=photos,
            photo_url=photo_url,
            seed=seed,
            recount=LogRecount() if recount else None,
        )
    except NoteError as exc:
        typer.echo(f"unusable key: {exc}", err=True)
        raise typer.Exit(2) from exc
    report = asyncio.run(_audit(url, options))
    summary = json.dumps(report.summary())
    typer.echo(report.human())
    typer.echo(summary)
    if json_out is not None:
        json_out.write_text(summary + "\n")
    raise typer.Exit(0 if report.ok else 1)


async def _audit(url: str, options: AuditOptions) -> Report:
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        return await run_audit(LogClient(http), url, options)
