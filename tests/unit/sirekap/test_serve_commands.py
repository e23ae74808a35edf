"""`sirekap ingest serve` and `sirekap tally serve`: each serves its own app, on the address its
settings name unless the command line says otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from shared.settings import get_settings
from sirekap.cli import app

runner = CliRunner()


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """uvicorn, replaced by a recorder of what it was asked to serve; settings from the
    environment below (read afresh: `get_settings` is cached per process)."""
    seen: list[dict[str, Any]] = []

    def record(factory: str, **kw: Any) -> None:
        seen.append({"factory": factory, **kw})

    monkeypatch.setattr("sirekap.commands.serving.serve_app", record)
    monkeypatch.setenv("SIREKAP_INGEST_PORT", "9101")
    monkeypatch.setenv("SIREKAP_TALLY_HOST", "0.0.0.0")
    monkeypatch.setenv("SIREKAP_TALLY_PORT", "9102")
    get_settings.cache_clear()
    yield seen
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("service", "factory", "address"),
    [
        ("ingest", "services.ingest.app:create_app", ("127.0.0.1", 9101)),
        ("tally", "services.tally.app:create_app", ("0.0.0.0", 9102)),
    ],
)
def test_serve_defaults_to_the_service_settings(
    served: list[dict[str, Any]], service: str, factory: str, address: tuple[str, int]
) -> None:
    result = runner.invoke(app, [service, "serve"])
    assert result.exit_code == 0, result.output
    assert served == [
        {
            "factory": factory,
            "service": service,
            "host": address[0],
            "port": address[1],
            "workers": 1,
        }
    ]


def test_serve_options_override_the_settings(served: list[dict[str, Any]]) -> None:
    args = ["tally", "serve", "--host", "10.0.0.5", "--port", "8080", "--workers", "3"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    (call,) = served
    assert (call["host"], call["port"], call["workers"]) == ("10.0.0.5", 8080, 3)


def test_serve_help_names_the_service() -> None:
    result = runner.invoke(app, ["tally", "serve", "--help"])
    assert result.exit_code == 0
    assert "dashboard" in result.output and "--workers" in result.output
