"""`sirekap ocr work` runs OCR workers; `sirekap ocr train` retrains the box classifier."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from services.ocr.train import recipe

app = typer.Typer(help="The OCR worker: read photographed forms, or hand them to a person.")


@app.command("work")
def work(
    processes: Annotated[
        int, typer.Option(help="Worker processes; one per CPU core is the useful maximum")
    ] = 1,
) -> None:
    """Claim OCR jobs and read their photos until interrupted (Ctrl-C / SIGTERM)."""
    from services.ocr.worker import run_workers
    from shared.logs import configure_logging
    from shared.settings import get_settings

    configure_logging("ocr", get_settings())
    run_workers(get_settings(), processes=processes)


@app.command("train")
def train(
    pages: Annotated[
        int, typer.Option(help="Training-side pages to harvest crops from")
    ] = recipe.RECIPE_PAGES,
    epochs: Annotated[
        int, typer.Option(help="Upper bound on passes over the crops per net")
    ] = recipe.RECIPE_EPOCHS,
    minutes: Annotated[
        float, typer.Option(help="Wall-time budget per net")
    ] = recipe.RECIPE_MINUTES,
    nets: Annotated[int, typer.Option(help="Networks in the ensemble")] = recipe.RECIPE_NETS,
    synth: Annotated[
        int, typer.Option(help="Synthetic crops added to the harvest")
    ] = recipe.RECIPE_SYNTH,
    threads: Annotated[int, typer.Option(help="Torch threads")] = 2,
    parallel: Annotated[
        bool, typer.Option(help="Train the nets in processes, up to --threads at once")
    ] = recipe.RECIPE_PARALLEL,
    threshold_pages: Annotated[
        int, typer.Option(help="Training-side pages read end to end to choose the threshold")
    ] = recipe.RECIPE_THRESHOLD_PAGES,
    seed: Annotated[int, typer.Option()] = 1,
    views: Annotated[
        int, typer.Option(help="Test-time views (1 or 5 shifted copies), chosen by held-out NLL")
    ] = 1,
    reuse: Annotated[bool, typer.Option(help="Load the nets an earlier run saved")] = False,
    out: Annotated[
        Path | None,
        typer.Option(help="Model folder to write (default: the committed services/ocr/model/)"),
    ] = None,
) -> None:
    """Retrain the classifier (needs the `train` extra: torch) and rewrite services/ocr/model/
    (or --out, to measure a candidate with `python -m benchmarks.ocr --model DIR` first).

    The defaults are the committed model's recipe (services/ocr/train/recipe.py)."""
    from services.ocr.reader.classifier import MODEL_DIR
    from services.ocr.train.run import train as run_training
    from services.ocr.train.stop import exit_on_sigterm

    os.nice(10)  # training shares the machine: let serving go first
    exit_on_sigterm()
    run_training(
        pages=pages,
        epochs=epochs,
        minutes=minutes,
        nets=nets,
        synth=synth,
        threads=threads,
        parallel=parallel,
        threshold_pages=threshold_pages,
        seed=seed,
        max_views=views,
        reuse=reuse,
        out_dir=out or MODEL_DIR,
    )
