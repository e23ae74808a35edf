"""The reader's version: a digest of the code that turns a photo into a reading.

Every reading records it beside the model's SHA-256. It covers the reader's own modules and
every module of the project's `shared` package they import, directly or through each other
(the form layouts, the consistency rules, the contest definitions): a change to a rule changes
which readings are accepted as surely as a change to the reader does. It replaced a hand-kept
"ocr-1.0" that nobody raised through the field search, the joint-doubt rule, the QR retries or
the second look, each of which changed readings of the same photo.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

READER_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = READER_DIR.parents[2]
SHARED_PACKAGE = "shared"
# The database tables are storage, not reading: the reader takes only the outcome names from
# them, and a new column elsewhere should not make every reading look like a new reader's.
NOT_READING = ("shared.db",)


def reader_digest(folder: Path = READER_DIR, root: Path = PROJECT_ROOT) -> str:
    """The first 12 hex digits of SHA-256 over the reader's modules in `folder` and the
    `shared` modules under `root` they import (each as its path and bytes, sorted)."""
    own = sorted(folder.glob("*.py"))
    digest = hashlib.sha256()
    for path in own:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for path in sorted(shared_modules(own, root)):
        name = path.relative_to(root).as_posix()
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def shared_modules(sources: list[Path], root: Path) -> set[Path]:
    """The files of every `shared` module that `sources` import, transitively, with the
    packages' `__init__.py` that importing them runs."""
    found: set[Path] = set()
    pending = list(sources)
    while pending:
        tree = ast.parse(pending.pop().read_bytes())
        for module in _imported(tree):
            for path in _files(module, root):
                if path not in found:
                    found.add(path)
                    pending.append(path)
    return found


def _imported(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            # `from shared.forms import layout` imports the module shared.forms.layout.
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {
        n
        for n in names
        if _within(n, SHARED_PACKAGE) and not any(_within(n, p) for p in NOT_READING)
    }


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _files(module: str, root: Path) -> list[Path]:
    """The file of `module` and the `__init__.py` of each package on its way."""
    parts = module.split(".")
    out = []
    for depth in range(1, len(parts) + 1):
        base = root.joinpath(*parts[:depth])
        for path in (base / "__init__.py", base.with_suffix(".py")):
            if path.is_file():
                out.append(path)
    return out


READER_VERSION = f"ocr-{reader_digest()}"
