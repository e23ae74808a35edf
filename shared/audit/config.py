"""The log's configuration: its origin, its signing key and the witnesses it accepts.

`SIREKAP_LOG_ORIGIN` and `SIREKAP_LOG_PRIVATE_KEY` live in the project's `Settings`; the knobs
only the log uses are read here under the same `SIREKAP_LOG_` prefix.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.audit.cosignature import CosignatureVerifier
from shared.audit.note import Ed25519Signer
from shared.settings import Settings

LOG_KEY_FILE = "log.key"


class LogSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIREKAP_LOG_", extra="ignore")

    # Witness verifier keys (cosignature/v1, type 0x04), separated by spaces or commas.
    witness_keys: str = ""
    # A witness polls about this often; a fresher checkpoint would go unwitnessed anyway.
    checkpoint_interval_s: float = 10.0
    # 10,000 entries integrate in about 1 s on PostgreSQL; larger batches only add latency.
    batch_size: int = 10_000
    poll_interval_s: float = 0.5
    # A sequencer that has not renewed its lease for this long is presumed dead.
    lease_ttl_s: float = 30.0


@dataclass(frozen=True)
class LogConfig:
    origin: str
    signer: Ed25519Signer
    witnesses: tuple[CosignatureVerifier, ...] = ()
    checkpoint_interval_s: float = 10.0
    batch_size: int = 10_000
    poll_interval_s: float = 0.5
    lease_ttl_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings, log: LogSettings | None = None) -> LogConfig:
        log = log or LogSettings()
        return cls(
            origin=settings.log_origin,
            signer=load_log_signer(settings),
            witnesses=parse_witness_keys(log.witness_keys),
            checkpoint_interval_s=log.checkpoint_interval_s,
            batch_size=log.batch_size,
            poll_interval_s=log.poll_interval_s,
            lease_ttl_s=log.lease_ttl_s,
        )


def parse_witness_keys(value: str) -> tuple[CosignatureVerifier, ...]:
    return tuple(CosignatureVerifier.from_vkey(v) for v in re.split(r"[\s,]+", value) if v)


def load_log_signer(settings: Settings) -> Ed25519Signer:
    """The key from `SIREKAP_LOG_PRIVATE_KEY`, else the embedded default's key file in the data
    folder, generated on first start. Production must bring its own key: a key made up on a
    pod's disk would vanish with the pod and orphan every checkpoint it signed."""
    if settings.log_private_key:
        return Ed25519Signer.from_skey(settings.log_private_key)
    if settings.environment == "production":
        raise RuntimeError("SIREKAP_LOG_PRIVATE_KEY must be set in production")
    return load_or_create_key_file(settings.data_dir / LOG_KEY_FILE, settings.log_origin)


def load_or_create_key_file(path: Path, name: str) -> Ed25519Signer:
    """Read a note private key from `path`, creating it (mode 0600) if absent. The key is
    written to a temporary file and hard-linked into place, so two processes starting together
    agree on one complete key: the loser's link fails and it reads the winner's file."""
    if path.exists():
        return Ed25519Signer.from_skey(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    signer = Ed25519Signer.generate(name)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(signer.skey() + "\n")
    try:
        os.link(tmp, path)
    except FileExistsError:
        return Ed25519Signer.from_skey(path.read_text())
    finally:
        tmp.unlink()
    return signer
