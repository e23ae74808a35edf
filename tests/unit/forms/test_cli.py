"""`sirekap forms blank` and `sirekap forms photos` write what they promise."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from sirekap.commands.forms import app

TPS = "1708042001001"


def test_blank_writes_every_page(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["blank", "--tps", TPS, "--contest", "PPWP", "--out", str(tmp_path / "f.png")]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f-p1.png", "f-p2.png"]
    pdf = tmp_path / "f.pdf"
    result = CliRunner().invoke(
        app, ["blank", "--tps", TPS, "--contest", "DPD", "--out", str(pdf), "--dpi", "100"]
    )
    assert result.exit_code == 0 and pdf.read_bytes().startswith(b"%PDF")


def test_photos_write_jpeg_and_truth(tmp_path: Path) -> None:
    args = [
        "photos",
        "--tps",
        TPS,
        "--contest",
        "PPWP",
        "--count",
        "3",
        "--seed",
        "4",
        "--out",
        str(tmp_path),
        "--side",
        "train",
        "--rule",
        "R3",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    jpegs = sorted(tmp_path.glob("*.jpg"))
    assert len(jpegs) == 3 and all(p.read_bytes()[:2] == b"\xff\xd8" for p in jpegs)
    gts = [json.loads(p.with_suffix(".json").read_text()) for p in jpegs]
    assert sorted(g["page"] for g in gts) == [1, 1, 2]
    assert all(g["side"] == "train" and g["inconsistent_rule"] == "R3" for g in gts)
    assert gts[0]["values"] == gts[1]["values"]  # one form, photographed page by page


def test_refusals_are_bilingual(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["photos", "--tps", "123", "--contest", "PPWP", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "Kode TPS tidak sah" in result.output and "invalid TPS code" in result.output
    result = CliRunner().invoke(
        app, ["photos", "--tps", TPS, "--contest", "PPWP", "--out", str(tmp_path), "--bad", "x"]
    )
    assert result.exit_code == 2 and "Jenis foto buruk" in result.output


def test_inconsistent_flag_picks_a_rule(tmp_path: Path) -> None:
    args = ["photos", "--tps", TPS, "--contest", "DPD", "--out", str(tmp_path), "--inconsistent"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    gt = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert gt["inconsistent_rule"] in gt["broken_rules"]
