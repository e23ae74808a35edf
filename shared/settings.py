"""Configuration from the environment (`SIREKAP_…`), read once per process by the app's lifespan.

The defaults are the embedded setup of `make run`: SQLite and a local folder under `data/`.
Production sets `SIREKAP_DATABASE_URL` to PostgreSQL and `SIREKAP_STORAGE=s3`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024


class LogSettings(BaseSettings):
    """Operational logs (not the audit log): one JSON object per line on stderr, or "text" for
    a person at a console (`sirekap run` sets it for its children). See `shared.logs`.

    On their own for a process that reads no other setting (the witness)."""

    model_config = SettingsConfigDict(env_prefix="SIREKAP_", extra="ignore")

    log_format: Literal["json", "text"] = "json"
    log_level: str = "INFO"

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("SIREKAP_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level


class Settings(LogSettings):
    model_config = SettingsConfigDict(env_prefix="SIREKAP_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("data")

    # Empty means "SQLite in data_dir"; production: postgresql+asyncpg://user:pw@host/db
    database_url: str = ""
    db_pool_size: int = 10

    storage: Literal["local", "s3"] = "local"
    storage_path: Path | None = None  # default: data_dir / "objects"
    s3_endpoint: str = "127.0.0.1:9000"
    s3_access_key: str = "minioadmin"
    s3_secret_key: str = "minioadmin"
    s3_bucket: str = "sirekap"
    s3_secure: bool = False
    s3_region: str = "us-east-1"

    # Upload limits. 8 MiB holds a 4000 px phone JPEG at high quality with room to spare.
    max_upload_bytes: int = 8 * MiB
    # 40 MP is above any phone camera in KPPS hands; larger is a decompression bomb.
    max_pixels: int = 40_000_000
    # Below ~1000 px on the long side a 3-box number is fewer than 12 px tall: unreadable.
    min_long_side: int = 1000
    min_short_side: int = 700
    # Phones' clocks drift; a capture stamped further in the future than this is refused.
    capture_future_skew_s: int = 600
    # An unfinished resumable upload is kept this long for its device to resume.
    tus_expiry_s: int = 7 * 24 * 3600

    # Rate limits (token buckets; burst 0 switches one off). See shared/ratelimit.py.
    # Per device: a TPS sends ~80 sheets, so 120 at once then 1 a second covers a full batch
    # with retakes. Per address: carriers NAT thousands of phones behind one, so only floods.
    rate_upload_device_burst: int = 120
    rate_upload_device_per_min: float = 60
    rate_upload_address_burst: int = 2000
    rate_upload_address_per_min: float = 6000
    rate_enrol_address_burst: int = 60
    rate_enrol_address_per_min: float = 30
    # A request body that sends nothing for this long gets 408; none may take longer than the
    # total (8 MiB at 2G's ~10 KB/s is ~14 min; tus clients send smaller chunks anyway).
    body_idle_timeout_s: float = 60
    body_total_timeout_s: float = 1200

    # Signs officials' bearer tokens (shared by ingest and tally). Generated for development.
    auth_secret: str = ""
    enrolment_code_ttl_s: int = 3 * 24 * 3600

    ingest_host: str = "127.0.0.1"
    ingest_port: int = 8001
    tally_host: str = "127.0.0.1"
    tally_port: int = 8002
    public_base_url: str = ""

    log_origin: str = "sirekap.example/log"
    log_private_key: str = ""

    @model_validator(mode="after")
    def _production_has_real_secrets(self) -> Settings:
        if self.environment == "production" and len(self.auth_secret) < 32:
            raise ValueError("SIREKAP_AUTH_SECRET must be set (≥ 32 chars) in production")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'sirekap.db').resolve()}"

    @property
    def resolved_storage_path(self) -> Path:
        return self.storage_path or self.data_dir / "objects"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


__all__ = ["LogSettings", "MiB", "Settings", "get_settings"]
