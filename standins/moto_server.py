"""moto's S3 server, as the tests, benchmarks and simulations run it:
`python -m standins.moto_server HOST PORT`.

The same moto S3 implementation and HTTP protocol as `python -m moto.server`, served for S3
alone by uvicorn. On a 2-core machine the stand-in's CPU is taken from the service under test,
and moto's own launcher spends much of it on things MinIO, in production, does not do:

- it routes every request through its multi-service dispatcher, which works out the service by
  scanning moto's package folder (`list_of_moto_modules`, ~15% of its CPU per 1 MiB PUT,
  measured with py-spy);
- werkzeug's development server closes every connection, so each PUT pays a new TCP
  connection on both sides and a new thread;
- it logs a line per request.

Served this way, moto took ~40% more 1 MiB PUTs per second from the same client.
"""

from __future__ import annotations

import sys

import uvicorn
from moto.moto_server.werkzeug_app import create_backend_app


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    uvicorn.run(
        create_backend_app("s3"),
        host=host,
        port=port,
        interface="wsgi",  # moto's Flask app, run in uvicorn's thread pool, keep-alive kept
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
