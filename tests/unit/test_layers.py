"""The folder tree is the architecture: each top-level package imports only the layers below it.

`shared` is the base; each service stands on `shared` alone (never on another service: they
meet in the database and the object store); the clients stand on `shared`; the command line
wires everything. `standins` (scratch databases, moto's S3) is for tests, benchmarks and the
simulation, never for what runs in production.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "services", "clients", "sirekap", "benchmarks", "standins", "tests")
MAY_IMPORT: dict[str, set[str]] = {
    "shared": set(),
    "standins": set(),
    "services": {"shared"},
    "clients": {"shared", "standins"},  # `sirekap simulate` starts a stand-in stack
    "sirekap": {"shared", "services", "clients"},
    "benchmarks": {"shared", "services", "clients", "standins"},
    "tests": {"shared", "services", "clients", "sirekap", "benchmarks", "standins"},
}


def _imports(path: Path) -> set[str]:
    """The absolute module names a file imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _crossings(root: Path, package: str) -> list[str]:
    """`file: module` for every import of another of the project's packages, or of another
    service from within a service."""
    found = []
    for path in sorted((root / package).rglob("*.py")):
        rel = path.relative_to(root)
        for module in _imports(path):
            parts = module.split(".")
            top = parts[0]
            if top not in PACKAGES or top == package:
                if package == "services" and top == "services" and parts[1:2] != [rel.parts[1]]:
                    found.append(f"{rel}: {module}")
                continue
            if top not in MAY_IMPORT[package]:
                found.append(f"{rel}: {module}")
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_imports_only_the_layers_below_it(package: str) -> None:
    assert _crossings(ROOT, package) == []


def test_the_check_sees_a_layer_crossed_and_one_service_leaning_on_another(
    tmp_path: Path,
) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "a.py").write_text("from standins.s3 import moto_s3\nimport json\n")
    (tmp_path / "services" / "ocr").mkdir(parents=True)
    (tmp_path / "services" / "ocr" / "b.py").write_text(
        "import services.tally.app\nfrom services.ocr import queue\nfrom shared import events\n"
    )
    assert _crossings(tmp_path, "shared") == ["shared/a.py: standins.s3"]
    assert _crossings(tmp_path, "services") == ["services/ocr/b.py: services.tally.app"]
