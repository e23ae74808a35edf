"""`sirekap forms …`: blank C.Hasil forms to print, and synthetic phone photos of filled ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from shared.consistency import RULES
from shared.contests import Contest, InvalidTpsCode, definition
from shared.forms.generate import generate_photo
from shared.forms.mnist import DigitsMissing
from shared.forms.photo import BAD_KINDS, PRESETS
from shared.forms.render import write_blank
from shared.forms.truth import make_truth

app = typer.Typer(help="C.Hasil forms: blank pages to print, synthetic photos of filled ones.")

TpsOpt = Annotated[str, typer.Option("--tps", help="13-digit TPS code")]
ContestOpt = Annotated[Contest, typer.Option("--contest", help="Contest code")]


def _fail(message_id: str, message_en: str) -> typer.Exit:
    typer.echo(f"{message_id} / {message_en}", err=True)
    return typer.Exit(2)


@app.command("blank")
def blank(
    tps: TpsOpt,
    contest: ContestOpt,
    out: Annotated[Path, typer.Option("--out", help="A .pdf (all pages) or .png (one per page)")],
    dpi: Annotated[int, typer.Option(help="Print resolution")] = 203,
) -> None:
    """Write the blank form of one contest for one TPS, all pages, at print resolution."""
    try:
        paths = write_blank(contest, tps, out, px_per_mm=dpi / 25.4)
    except InvalidTpsCode as exc:
        raise _fail("Kode TPS tidak sah", str(exc)) from exc
    for p in paths:
        typer.echo(str(p))


SAMPLES = (
    ("clean", "PPWP", 1, None),
    ("clean", "DPR", 2, None),
    ("typical", "PPWP", 2, None),
    ("typical", "DPRD_KABKOTA", 3, None),
    ("hard", "PPWP", 1, None),
    ("hard", "DPD", 2, None),
    ("typical", "PPWP", 1, "screen"),
    ("typical", "PPWP", 1, "corner_cut"),
)


@app.command("samples")
def samples(
    out: Annotated[Path, typer.Option("--out", help="Folder, e.g. docs/img")] = Path("docs/img"),
    long_side: Annotated[int, typer.Option(help="Downscale to this long side")] = 1100,
) -> None:
    """Write the small sample photos shown in docs/forms.md (deterministic)."""
    import cv2
    import numpy as np

    out.mkdir(parents=True, exist_ok=True)
    for i, (difficulty, contest, page, bad) in enumerate(SAMPLES):
        jpeg, _ = generate_photo("1708042001001", contest, page, None, difficulty, i, bad=bad)
        img = np.asarray(cv2.imdecode(np.frombuffer(jpeg, np.uint8), 1), dtype=np.uint8)
        f = long_side / max(img.shape[:2])
        small = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        name = f"forms-{difficulty}-{contest.lower()}-p{page}{'-' + bad if bad else ''}.jpg"
        cv2.imwrite(str(out / name), small, [cv2.IMWRITE_JPEG_QUALITY, 82])
        typer.echo(str(out / name))


@app.command("photos")
def photos(
    tps: TpsOpt,
    contest: ContestOpt,
    out: Annotated[Path, typer.Option("--out", help="Folder for the JPEGs and JSON files")],
    difficulty: Annotated[str, typer.Option(help="clean | typical | hard")] = "typical",
    count: Annotated[int, typer.Option(help="Number of photos (pages in turn)")] = 1,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same bytes")] = 0,
    side: Annotated[str, typer.Option(help="MNIST side to draw digits from: eval | train")] = (
        "eval"
    ),
    inconsistent: Annotated[
        bool, typer.Option("--inconsistent", help="Break a consistency rule (random unless --rule)")
    ] = False,
    rule: Annotated[str | None, typer.Option(help="The rule to break: R1..R7")] = None,
    bad: Annotated[str | None, typer.Option(help=f"A photo to refuse: {', '.join(BAD_KINDS)}")] = (
        None
    ),
    page: Annotated[int | None, typer.Option(help="Only this page (default: every page)")] = None,
) -> None:
    """Write COUNT phone photos of the filled form and one ground-truth JSON per photo."""
    if difficulty not in PRESETS:
        raise _fail("Tingkat kesulitan tidak dikenal", f"difficulty must be one of {list(PRESETS)}")
    if side not in ("eval", "train"):
        raise _fail("Sisi data tidak dikenal", "side must be eval or train")
    if bad is not None and bad not in BAD_KINDS:
        raise _fail("Jenis foto buruk tidak dikenal", f"bad must be one of {list(BAD_KINDS)}")
    if rule is not None and rule not in RULES:
        raise _fail("Aturan tidak dikenal", f"rule must be one of {list(RULES)}")
    broken: str | bool | None = rule or (True if inconsistent else None)
    try:
        pages = definition(contest, tps).pages
    except InvalidTpsCode as exc:
        raise _fail("Kode TPS tidak sah", str(exc)) from exc
    if page is not None and not 1 <= page <= pages:
        raise _fail("Halaman tidak ada", f"{contest.value} has pages 1..{pages}")
    truth = make_truth(contest, tps, seed, inconsistent=broken)
    out.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        p = page or 1 + i % pages
        try:
            jpeg, gt = generate_photo(
                tps,
                contest,
                p,
                truth,
                difficulty,
                seed + i,
                side="eval" if side == "eval" else "train",
                bad=bad,
            )
        except DigitsMissing as exc:
            raise _fail("Data digit MNIST belum diunduh", str(exc)) from exc
        gt["truth_seed"] = seed
        stem = out / f"{tps}-{contest.value}-p{p}-{i:04d}"
        stem.with_suffix(".jpg").write_bytes(jpeg)
        stem.with_suffix(".json").write_text(json.dumps(gt, indent=1) + "\n")
        typer.echo(str(stem.with_suffix(".jpg")))
