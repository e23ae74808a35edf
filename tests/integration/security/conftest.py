"""Security tests: the ingest app on both backends (fixtures re-used from the ingest tests),
and helpers that send exactly the bytes an attacker would and count what was left behind."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx
from sqlalchemy import func, select

from clients.kpps.client import now_rfc3339
from clients.kpps.profile import Profile
from shared.db.tables import AuditEvent, OcrJob, Submission, UploadSession
from shared.signing import UploadClaim, sign
from tests.integration.ingest.conftest import Ingest, ingest, ingest_settings
from tests.integration.tally.conftest import tally_client, tally_db, tally_url

__all__ = ["ingest", "ingest_settings", "tally_client", "tally_db", "tally_url"]
TUS = {"Tus-Resumable": "1.0.0"}


async def footprint(ingest: Ingest) -> dict[str, int]:
    """Everything an upload can leave behind: rows of four tables and objects of two prefixes."""
    async with ingest.db.reading() as session:
        rows = {
            table.__tablename__: await session.scalar(select(func.count()).select_from(table)) or 0
            for table in (Submission, UploadSession, OcrJob, AuditEvent)
        }
    store = ingest.state.store
    return {
        **rows,
        "photos/": len(await store.list("photos/")),
        "uploads/": len(await store.list("uploads/")),
    }


def signed_claim(
    profile: Profile,
    body: bytes,
    *,
    contest: str = "PPWP",
    page: int = 1,
    sha256: str | None = None,
    captured_at: str | None = None,
) -> tuple[UploadClaim, str]:
    claim = UploadClaim(
        device_id=profile.device_id,
        tps=profile.tps,
        contest=contest,
        page=page,
        sha256=sha256 or hashlib.sha256(body).hexdigest(),
        captured_at=captured_at or now_rfc3339(),
    )
    return claim, sign(profile.key(), claim.signed_bytes())


def single_upload_request(
    profile: Profile, body: bytes, **overrides: Any
) -> tuple[dict[str, str | int], dict[str, str]]:
    """The query and headers of `POST /v1/uploads` for `body`, correctly signed."""
    claim, signature = signed_claim(profile, body, **overrides)
    params: dict[str, str | int] = {
        "tps": claim.tps,
        "contest": claim.contest,
        "page": claim.page,
        "sha256": claim.sha256,
        "captured_at": claim.captured_at,
    }
    headers = {"Sirekap-Device": claim.device_id, "Sirekap-Signature": signature}
    return params, headers


async def post_single(
    http: httpx.AsyncClient, profile: Profile, body: bytes, **overrides: Any
) -> httpx.Response:
    params, headers = single_upload_request(profile, body, **overrides)
    return await http.post("/v1/uploads", params=params, headers=headers, content=body)


def tus_metadata(claim: UploadClaim, signature: str) -> str:
    fields = {
        "device": claim.device_id,
        "tps": claim.tps,
        "contest": claim.contest,
        "page": str(claim.page),
        "sha256": claim.sha256,
        "captured_at": claim.captured_at,
        "signature": signature,
    }
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in fields.items())


async def tus_create(
    http: httpx.AsyncClient, profile: Profile, body: bytes, **overrides: Any
) -> httpx.Response:
    claim, signature = signed_claim(profile, body, **overrides)
    return await http.post(
        "/v1/tus",
        headers={
            **TUS,
            "Upload-Length": str(len(body)),
            "Upload-Metadata": tus_metadata(claim, signature),
        },
    )


def assert_refusal(response: httpx.Response, status: int | set[int]) -> dict[str, Any]:
    """A 4xx whose body is the project's JSON error shape with a non-empty detail in both
    languages; returns the body."""
    allowed = {status} if isinstance(status, int) else status
    assert response.status_code in allowed, (response.status_code, response.text[:500])
    assert 400 <= response.status_code < 500
    body: dict[str, Any] = response.json()
    assert isinstance(body.get("error"), str) and body["error"], body
    assert isinstance(body.get("detail"), str) and body["detail"], body
    assert isinstance(body.get("detail_id"), str) and body["detail_id"], body
    return body
