"""`sirekap ocr train` hands its options to the training run (torch itself is not needed here)."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from services.ocr.reader.classifier import MODEL_DIR
from services.ocr.train import recipe
from sirekap.commands import ocr

runner = CliRunner()


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The training run, replaced by a recorder (the real one imports torch)."""
    seen: list[dict[str, Any]] = []
    fake = types.ModuleType("services.ocr.train.run")
    fake.train = lambda **kw: seen.append(kw)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "services.ocr.train.run", fake)
    monkeypatch.setattr("os.nice", lambda _: 0)  # keep the test process's priority
    return seen


def test_train_defaults_are_the_recipe_and_write_the_committed_model(
    calls: list[dict[str, Any]],
) -> None:
    result = runner.invoke(ocr.app, ["train"])
    assert result.exit_code == 0, result.output
    (kw,) = calls
    assert kw["out_dir"] == MODEL_DIR
    assert (kw["pages"], kw["minutes"], kw["nets"], kw["synth"]) == (
        recipe.RECIPE_PAGES,
        recipe.RECIPE_MINUTES,
        recipe.RECIPE_NETS,
        recipe.RECIPE_SYNTH,
    )
    assert kw["reuse"] is False and kw["max_views"] == 1


def test_train_writes_a_candidate_elsewhere(calls: list[dict[str, Any]], tmp_path: Path) -> None:
    args = ["train", "--out", str(tmp_path), "--reuse", "--views", "5", "--minutes", "2"]
    result = runner.invoke(ocr.app, args)
    assert result.exit_code == 0, result.output
    (kw,) = calls
    assert kw["out_dir"] == tmp_path and kw["reuse"] is True
    assert kw["max_views"] == 5 and kw["minutes"] == 2.0
