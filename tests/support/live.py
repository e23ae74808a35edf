"""Run a service under a real uvicorn on a loopback port, for clients that need real sockets."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from services.ingest.app import create_app
from services.ingest.enrolment import issue_code
from shared.db.engine import database_from_settings
from shared.reference.load import load_reference
from shared.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_sync(coro_factory: object) -> object:
    """Run a coroutine to completion from sync code, even if this thread has a loop."""
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(coro_factory())))  # type: ignore[operator]
    thread.start()
    thread.join()
    return result[0]


@dataclass
class LiveIngest:
    url: str
    settings: Settings

    def issue_code(self, tps: str) -> str:
        async def issue() -> str:
            db = database_from_settings(self.settings)
            try:
                async with db.transaction() as session:
                    code, _ = await issue_code(session, tps_code=tps, issued_by="test", ttl_s=600)
            finally:
                await db.dispose()
            return code

        return str(run_sync(issue))


@contextmanager
def serve_app(app: FastAPI) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def load_reference_sync(settings: Settings, scope: str) -> None:
    """Load regions and TPS into the settings' database from sync test code."""

    async def load() -> None:
        db = database_from_settings(settings)
        try:
            await load_reference(db, scope)
        finally:
            await db.dispose()

    run_sync(load)


@contextmanager
def serve_ingest(settings: Settings, *, scope: str) -> Iterator[LiveIngest]:
    load_reference_sync(settings, scope)
    with serve_app(create_app(settings)) as url:
        yield LiveIngest(url=url, settings=settings)
