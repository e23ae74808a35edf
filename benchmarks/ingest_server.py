"""The ingest app with the benchmark's bare baseline endpoint, as its own process.

Settings come from `SIREKAP_…` environment variables, as in production.
"""

from __future__ import annotations

import sys

import uvicorn

from services.ingest.app import create_app
from shared.settings import Settings


def main() -> None:
    port = int(sys.argv[1])
    app = create_app(Settings(), bench_endpoints=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
