"""`sirekap simulate`: a whole kabupaten's election day against running services."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from clients.simulation.day import OFFICIAL_PASSWORD, Day
from clients.simulation.plan import plan_day
from clients.simulation.stack import running_stack
from shared.contests import Contest

app = typer.Typer(help="Simulate an election day end to end.")


@app.command("simulate")
def simulate(
    kabupaten: Annotated[str, typer.Option(help="Dotted code of the region to simulate")] = "17.08",
    contests: Annotated[str, typer.Option(help="Comma-separated contests")] = "PPWP",
    clients: Annotated[int, typer.Option(help="Concurrent KPPS clients")] = 64,
    difficulty: Annotated[str, typer.Option(help="clean, typical or hard")] = "typical",
    stack: Annotated[str, typer.Option(help="embedded or postgres-s3")] = "embedded",
    ingest_replicas: Annotated[int, typer.Option(help="Ingest processes (round-robin)")] = 1,
    ocr_processes: Annotated[int, typer.Option(help="OCR worker processes")] = 1,
    seed: Annotated[int, typer.Option()] = 2024,
    timeout_s: Annotated[float, typer.Option(help="Give up waiting for the tally after")] = 1800,
) -> None:
    """Play the day, then print the report and one JSON line."""
    chosen = [Contest(c.strip()) for c in contests.split(",")]
    plans = plan_day(kabupaten, chosen, seed)
    typer.echo(f"{len(plans)} TPS, contests {', '.join(c.value for c in chosen)}, {stack}")
    username = "sim-kpu"
    with running_stack(
        stack,
        scope=kabupaten,
        ingest_replicas=ingest_replicas,
        ocr_processes=ocr_processes,
        official=(username, "KPU_KABKOTA", ".".join(kabupaten.split(".")[:2])),
        password=OFFICIAL_PASSWORD,
    ) as running:
        day = Day(
            running, plans, clients=clients, difficulty=difficulty, seed=seed, username=username
        )
        report = asyncio.run(day.run(timeout_s))
    for key, value in report.items():
        typer.echo(f"  {key:28} {value}")
    typer.echo(json.dumps(report, sort_keys=True))
    ok = report["tally_matches_truth"] and report["verified"] and report["silent_errors"] == 0
    raise typer.Exit(0 if ok else 1)
