"""Every reading names the reader code that made it: a digest of the reader's modules."""

from __future__ import annotations

import shutil
from pathlib import Path

from services.ocr.reader import result

READER = Path(result.__file__).parent


def test_the_version_is_the_digest_of_the_reader_modules() -> None:
    assert f"ocr-{result.reader_digest()}" == result.READER_VERSION
    assert len(result.READER_VERSION) <= 32  # the readings table's column


def test_an_edited_module_changes_the_version(tmp_path: Path) -> None:
    copy = tmp_path / "reader"
    shutil.copytree(READER, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert result.reader_digest(copy) == result.reader_digest()
    classifier = copy / "classifier.py"
    classifier.write_text(classifier.read_text().replace("0.999", "0.99", 1))
    assert result.reader_digest(copy) != result.reader_digest()


def test_a_new_module_changes_the_version(tmp_path: Path) -> None:
    copy = tmp_path / "reader"
    shutil.copytree(READER, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "new_step.py").write_text("")
    assert result.reader_digest(copy) != result.reader_digest()
