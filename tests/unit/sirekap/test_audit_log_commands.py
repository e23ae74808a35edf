"""The command-line glue of the audit log: keys, and the verifier's refusal of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from shared.audit.config import LOG_KEY_FILE
from shared.audit.cosignature import CosignatureVerifier
from shared.audit.note import Ed25519Verifier
from shared.settings import get_settings
from sirekap.commands import audit, log, witness

runner = CliRunner()


def test_witness_keygen_writes_a_key_and_prints_its_vkey(tmp_path: Path) -> None:
    key_file = tmp_path / "w1.key"
    result = runner.invoke(witness.app, ["keygen", "witness.test/w1", "--key-file", str(key_file)])
    assert result.exit_code == 0, result.output
    verifier = CosignatureVerifier.from_vkey(result.output.strip())
    assert verifier.name == "witness.test/w1"
    assert key_file.stat().st_mode & 0o077 == 0  # private to its owner
    again = runner.invoke(witness.app, ["keygen", "witness.test/w1", "--key-file", str(key_file)])
    assert again.output.strip().endswith(result.output.strip())  # the key is kept


def test_log_key_is_generated_once_in_the_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIREKAP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SIREKAP_LOG_ORIGIN", "sirekap.test/log")
    monkeypatch.delenv("SIREKAP_LOG_PRIVATE_KEY", raising=False)
    get_settings.cache_clear()
    try:
        first = runner.invoke(log.app, ["key"])
        second = runner.invoke(log.app, ["key"])
    finally:
        get_settings.cache_clear()
    assert first.exit_code == 0, first.output
    assert first.output == second.output
    assert Ed25519Verifier.from_vkey(first.output.strip()).name == "sirekap.test/log"
    assert (tmp_path / LOG_KEY_FILE).exists()


def test_audit_verify_refuses_an_unusable_key() -> None:
    result = runner.invoke(audit.app, ["verify", "http://127.0.0.1:9", "--log-key", "nonsense"])
    assert result.exit_code == 2
    assert "unusable key" in result.output


def test_audit_verify_fails_when_the_log_is_unreachable() -> None:
    vkey = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
    result = runner.invoke(audit.app, ["verify", "http://127.0.0.1:9", "--log-key", vkey])
    assert result.exit_code == 1
    assert '"ok": false' in result.output
