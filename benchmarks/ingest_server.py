"""The ingest app with the benchmark's bare baseline endpoint, as its own server process.

Settings come from `SIREKAP_…` environment variables, as in production; `workers` uvicorn
processes share the port, as a production replica runs one per core.
"""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI

from services.ingest.app import create_app
from shared.settings import Settings


def app() -> FastAPI:
    return create_app(Settings(), bench_endpoints=True)


def main() -> None:
    port = int(sys.argv[1])
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    uvicorn.run(
        "benchmarks.ingest_server:app",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
