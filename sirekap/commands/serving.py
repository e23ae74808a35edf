"""How every HTTP service is served: uvicorn over the app factory, one process per worker."""

from __future__ import annotations

import uvicorn

# Long enough for a phone on a weak link to send its next request on the same connection,
# short enough that idle connections do not pile up on a busy evening.
KEEP_ALIVE_S = 30


def serve_app(factory: str, *, host: str, port: int, workers: int) -> None:
    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        timeout_keep_alive=KEEP_ALIVE_S,
    )
