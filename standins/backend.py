"""The `SIREKAP_*` settings that put a run on one of the two backends every service supports."""

from __future__ import annotations

import asyncio
from contextlib import ExitStack
from pathlib import Path

from standins.postgres import fresh_pg_database
from standins.s3 import moto_s3

BACKENDS = ("embedded", "postgres-s3")


def backend_env(backend: str, data_dir: Path, stack: ExitStack, *, name: str) -> dict[str, str]:
    """`embedded`: SQLite and a folder, both in `data_dir`. `postgres-s3`: a fresh scratch
    database `name` and a moto S3 server (bucket "sirekap"), running until `stack` closes."""
    if backend == "embedded":
        return {
            "SIREKAP_DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'sirekap.db'}",
            "SIREKAP_STORAGE": "local",
        }
    if backend != "postgres-s3":
        raise ValueError(f"backend {backend!r} is not one of {BACKENDS}")
    url = asyncio.run(fresh_pg_database(name))
    return {
        "SIREKAP_DATABASE_URL": url,
        "SIREKAP_STORAGE": "s3",
        "SIREKAP_S3_ENDPOINT": stack.enter_context(moto_s3(credentials="standin")),
        "SIREKAP_S3_ACCESS_KEY": "standin",
        "SIREKAP_S3_SECRET_KEY": "standin",
        "SIREKAP_S3_BUCKET": "sirekap",
    }
