"""`sirekap witness`: run an independent witness of the audit log.

sirekap witness keygen witness.example.org/w1 --key-file w1.key   # prints the vkey to publish
sirekap witness run https://log.example --log-key <log vkey> --key-file w1.key --state w1.json
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import httpx
import typer

from services.witness.witness import ForkDetected, Witness, WitnessRefusal
from shared.audit.config import load_or_create_key_file
from shared.audit.cosignature import CosignatureSigner
from shared.audit.note import Ed25519Verifier, NoteError
from shared.logs import configure_logging

app = typer.Typer(help="Witness the audit log: check each checkpoint extends the last, cosign.")
log = logging.getLogger("sirekap.witness")

KeyFile = Annotated[Path, typer.Option(help="the witness's private key (note skey form)")]


@app.command()
def keygen(name: str, key_file: KeyFile) -> None:
    """Create the witness key (if absent) and print its cosignature verifier key."""
    if key_file.exists():
        typer.echo(f"{key_file} exists; keeping it", err=True)
    signer = CosignatureSigner.from_note_signer(load_or_create_key_file(key_file, name))
    typer.echo(signer.vkey())


@app.command()
def run(
    url: str,
    log_key: Annotated[str, typer.Option(help="the log's verifier key")],
    key_file: KeyFile,
    state: Annotated[Path, typer.Option(help="where the witness remembers the log")],
    origin: Annotated[str | None, typer.Option(help="default: the log key's name")] = None,
    interval: Annotated[float, typer.Option(help="seconds between checks")] = 10.0,
    once: Annotated[bool, typer.Option(help="check and cosign once, then exit")] = False,
) -> None:
    """Watch the log at URL; exit 2 with the evidence if it forks.

    Reports each round as a log line on stderr (JSON unless SIREKAP_LOG_FORMAT=text)."""
    configure_logging("witness")  # the witness reads no other setting
    try:
        verifier = Ed25519Verifier.from_vkey(log_key)
        signer = CosignatureSigner.from_skey(key_file.read_text())
    except (OSError, NoteError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    code = asyncio.run(_run(url, verifier, signer, state, origin, interval, once))
    raise typer.Exit(code)


async def _run(
    url: str,
    verifier: Ed25519Verifier,
    signer: CosignatureSigner,
    state: Path,
    origin: str | None,
    interval: float,
    once: bool,
) -> int:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        witness = Witness(client, signer, verifier, state, origin)
        while True:
            try:
                result = await witness.witness_once()
                log.info("cosigned tree size %d", result.size, extra={"size": result.size})
            except ForkDetected as fork:
                evidence = state.with_name(state.name + ".fork.txt")
                evidence.write_text(
                    f"{fork}\n\n--- previously signed ---\n{fork.previous_note}"
                    f"\n--- now signed ---\n{fork.new_note}"
                )
                log.critical("FORK: %s; evidence in %s", fork, evidence)
                return 2
            except WitnessRefusal as exc:
                log.error("refused: %s", exc)
                if once:
                    return 1
            except httpx.HTTPError as exc:
                # The log being down is not a fork; try again next round.
                log.warning("log unreachable: %s", exc)
                if once:
                    return 1
            if once:
                return 0
            await asyncio.sleep(interval)
