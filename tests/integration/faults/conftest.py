"""Fault fixtures: the object store behind a proxy that can cut it off or fill its disk, and
the production backend (PostgreSQL + S3) for the tests that inject faults into it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from benchmarks.faults import S3Proxy
from clients.kpps.client import Backoff, KppsClient, now_rfc3339
from services.ingest.app import create_app
from services.ingest.state import IngestState
from shared.reference.load import load_reference
from shared.settings import Settings
from shared.signing import UploadClaim, sign
from tests.conftest import clean_database
from tests.integration.ingest.conftest import Ingest, settings_for
from tests.support.photos import sha256


@pytest.fixture
async def s3_proxy(s3_endpoint: str) -> AsyncIterator[S3Proxy]:
    """A TCP proxy to the S3 server: `mode` "up", "down" (refuses) or "full" (answers 507)."""
    proxy = S3Proxy(int(s3_endpoint.split(":")[1]))
    await proxy.start()
    yield proxy
    assert proxy.server is not None
    proxy.server.close()


@pytest.fixture
def pg_s3_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """PostgreSQL (the session's database) and the S3 server, as in production."""
    return settings_for("postgres-s3", tmp_path, request)


def quick_backoff(attempts: int = 60, cap_s: float = 0.2) -> Backoff:
    """Retries as a phone makes them, but waiting at most `cap_s` (a Retry-After included)."""

    async def sleep(seconds: float) -> None:
        await asyncio.sleep(min(seconds, cap_s))

    return Backoff(base_s=0.05, cap_s=cap_s, attempts=attempts, sleep=sleep)


Statuses = list[tuple[str, int, str | None]]


def recording(statuses: Statuses) -> Callable[[Any], Any]:
    """An httpx response hook noting (path, status, Retry-After) of every answer."""

    async def hook(response: Any) -> None:
        statuses.append(
            (response.request.url.path, response.status_code, response.headers.get("Retry-After"))
        )

    return hook


@asynccontextmanager
async def running_ingest(settings: Settings, scope: str = "17.08.01") -> AsyncIterator[Ingest]:
    """The ingest app (lifespan run) over ASGI on a clean database with `scope`'s TPS."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        state: IngestState = app.state.ingest
        if not settings.is_sqlite:
            await clean_database(state.db)
        await load_reference(state.db, scope)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:
            yield Ingest(app=app, http=http, settings=settings)


async def raw_upload(
    ingest: Ingest, client: KppsClient, photo: bytes, page: int = 1
) -> httpx.Response:
    """One upload, not retried: what a client is answered while a dependency is down."""
    profile = client.profile
    claim = UploadClaim(profile.device_id, profile.tps, "PPWP", page, sha256(photo), now_rfc3339())
    return await ingest.http.post(
        "/v1/uploads",
        params={
            "tps": claim.tps,
            "contest": "PPWP",
            "page": str(page),
            "sha256": claim.sha256,
            "captured_at": claim.captured_at,
        },
        content=photo,
        headers={
            "Sirekap-Device": claim.device_id,
            "Sirekap-Signature": sign(profile.key(), claim.signed_bytes()),
        },
    )
