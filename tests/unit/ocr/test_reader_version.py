"""Every reading names the code that made it: a digest of the reader's modules and of the
shared rules, layouts and contests they import."""

from __future__ import annotations

import shutil
from pathlib import Path

from services.ocr.reader import result, version

READER = version.READER_DIR
ROOT = version.PROJECT_ROOT


def test_the_version_is_the_digest_of_the_reader_modules() -> None:
    assert f"ocr-{version.reader_digest()}" == version.READER_VERSION
    assert result.PageReading.__dataclass_fields__["reader_version"].default == (
        version.READER_VERSION
    )
    assert len(version.READER_VERSION) <= 32  # the readings table's column


def test_an_edited_module_changes_the_version(tmp_path: Path) -> None:
    copy = tmp_path / "reader"
    shutil.copytree(READER, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert version.reader_digest(copy) == version.reader_digest()
    classifier = copy / "classifier.py"
    classifier.write_text(classifier.read_text().replace("0.999", "0.99", 1))
    assert version.reader_digest(copy) != version.reader_digest()


def test_a_new_module_changes_the_version(tmp_path: Path) -> None:
    copy = tmp_path / "reader"
    shutil.copytree(READER, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "new_step.py").write_text("")
    assert version.reader_digest(copy) != version.reader_digest()


def _copy_shared(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(ROOT / "shared", root / "shared", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_an_edited_rule_or_layout_changes_the_version(tmp_path: Path) -> None:
    for module in ("consistency.py", "forms/layout.py", "contests/definition.py"):
        root = _copy_shared(tmp_path / module.replace("/", "_"))
        assert version.reader_digest(READER, root) == version.reader_digest()
        edited = root / "shared" / module
        edited.write_text(edited.read_text() + "\n# edited\n")
        assert version.reader_digest(READER, root) != version.reader_digest()


def test_the_shared_modules_are_those_the_reader_imports(tmp_path: Path) -> None:
    found = {
        p.relative_to(ROOT).as_posix()
        for p in version.shared_modules(sorted(READER.glob("*.py")), ROOT)
    }
    # Directly (page.py), through another shared module (layout -> identity), and the
    # packages on the way; the database tables are storage, not reading.
    assert {"shared/consistency.py", "shared/forms/layout.py", "shared/forms/identity.py"} <= found
    assert {"shared/__init__.py", "shared/forms/__init__.py", "shared/contests/codes.py"} <= found
    assert not any(name.startswith("shared/db/") for name in found)
    root = _copy_shared(tmp_path)
    (root / "shared" / "storage" / "local.py").write_text("# not read by the reader\n")
    assert version.reader_digest(READER, root) == version.reader_digest()
