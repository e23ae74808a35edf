"""The reference KPPS client: enrol, sign, upload resumably, retry with backoff.

It is the model for the mobile apps. An upload is a tus upload: created once with the signed
claim, then sent in chunks; after any failure the client asks the server for the offset (HEAD)
and continues from there, waiting longer after each failure (exponential backoff with jitter,
so a village's phones do not retry in lockstep when the network returns). The upload's URL is
saved beside the profile, so even a restarted app resumes instead of starting over. A 4xx
refusal is final and shown to the officer in Bahasa Indonesia; only network errors, 5xx, 409
(offset moved) and 429 are retried.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from clients.kpps.profile import Profile, new_key
from shared.signing import UploadClaim, enrolment_bytes, sign

DEFAULT_CHUNK = 256 * 1024  # a chunk that survives ~10 s on a 200 kbit/s rural link
RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
TUS = {"Tus-Resumable": "1.0.0"}


class UploadRefused(Exception):
    """The server refused the upload for good (a 4xx): retrying will not help."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body
        super().__init__(
            f"{status} {body.get('error', '')}: {body.get('detail', '')} / "
            f"{body.get('detail_id', '')}"
        )


@dataclass
class Backoff:
    base_s: float = 0.5
    cap_s: float = 60.0
    attempts: int = 8
    sleep: Callable[[float], Any] = asyncio.sleep
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base·2^attempt)]."""
        return self.rng.uniform(0, min(self.cap_s, self.base_s * 2**attempt))


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json_or_text(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
        return body if isinstance(body, dict) else {"detail": str(body)}
    except ValueError:
        return {"detail": response.text[:500]}


async def enroll(
    server: str,
    tps: str,
    code: str,
    *,
    label: str = "",
    transport: httpx.AsyncBaseTransport | None = None,
) -> Profile:
    key, seed_b64, public = new_key()
    proof = sign(key, enrolment_bytes(tps, code, public))
    async with httpx.AsyncClient(base_url=server, transport=transport, timeout=30) as http:
        response = await http.post(
            "/v1/devices",
            json={
                "tps": tps,
                "code": code,
                "public_key": base64.b64encode(public).decode(),
                "proof": proof,
                "label": label,
            },
        )
    if response.status_code != 201:
        raise UploadRefused(response.status_code, _json_or_text(response))
    return Profile(
        server=server, tps=tps, device_id=response.json()["device_id"], private_key=seed_b64
    )


@dataclass
class KppsClient:
    profile: Profile
    http: httpx.AsyncClient
    state_dir: Path | None = None
    chunk_size: int = DEFAULT_CHUNK
    backoff: Backoff = field(default_factory=Backoff)

    def claim(self, sha256: str, contest: str, page: int, captured_at: str) -> UploadClaim:
        return UploadClaim(
            device_id=self.profile.device_id,
            tps=self.profile.tps,
            contest=contest,
            page=page,
            sha256=sha256,
            captured_at=captured_at,
        )

    def _metadata(self, claim: UploadClaim, signature: str) -> str:
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

    async def upload_single(
        self, photo: bytes, *, contest: str, page: int, captured_at: str | None = None
    ) -> dict[str, Any]:
        """One request; retried as a whole. Good on a strong connection."""
        sha = hashlib.sha256(photo).hexdigest()
        claim = self.claim(sha, contest, page, captured_at or now_rfc3339())
        signature = sign(self.profile.key(), claim.signed_bytes())
        params: dict[str, str | int] = {
            "tps": claim.tps,
            "contest": contest,
            "page": page,
            "sha256": sha,
            "captured_at": claim.captured_at,
        }
        headers = {
            "Sirekap-Device": claim.device_id,
            "Sirekap-Signature": signature,
            "Content-Type": "image/jpeg",
        }

        async def attempt() -> httpx.Response:
            return await self.http.post(
                "/v1/uploads", params=params, content=photo, headers=headers
            )

        response = await self._with_retries(attempt)
        return response.json()  # type: ignore[no-any-return]

    async def upload(
        self, photo: bytes, *, contest: str, page: int, captured_at: str | None = None
    ) -> dict[str, Any]:
        """A resumable (tus) upload; returns the server's receipt."""
        sha = hashlib.sha256(photo).hexdigest()
        if (known := await self._already_received(sha, contest, page)) is not None:
            return known
        saved = self._load_state(sha, contest, page)
        captured_at = saved.get("captured_at") or captured_at or now_rfc3339()
        claim = self.claim(sha, contest, page, captured_at)
        url, offset = saved.get("url"), 0
        if url:
            try:
                offset = await self._offset(url)
            except UploadRefused as exc:
                if exc.status not in (404, 410):
                    raise
                url = None  # expired on the server: start again
        if not url:
            url = await self._create(claim, len(photo))
            offset = 0
        self._save_state(sha, contest, page, {"url": url, "captured_at": captured_at})
        failures = 0
        while offset < len(photo):
            chunk = photo[offset : offset + self.chunk_size]
            try:
                response = await self.http.patch(
                    url,
                    content=chunk,
                    headers={
                        **TUS,
                        "Upload-Offset": str(offset),
                        "Content-Type": "application/offset+octet-stream",
                        "Upload-Checksum": "sha1 "
                        + base64.b64encode(hashlib.sha1(chunk).digest()).decode(),
                    },
                )
            except httpx.TransportError:
                response = None
            if response is not None and response.status_code == 204:
                offset = int(response.headers["Upload-Offset"])
                failures = 0
                continue
            if response is not None and response.status_code not in RETRYABLE_STATUS | {460}:
                self._forget_state(sha, contest, page)
                raise UploadRefused(response.status_code, _json_or_text(response))
            failures += 1
            if failures > self.backoff.attempts:
                raise ConnectionError(f"gave up after {failures} failed attempts")
            await self.backoff.sleep(self.backoff.delay(failures))
            offset = await self._offset(url)
        receipt = await self._with_retries(lambda: self.http.get(f"{url}/receipt"))
        self._forget_state(sha, contest, page)
        return receipt.json()  # type: ignore[no-any-return]

    async def _already_received(self, sha: str, contest: str, page: int) -> dict[str, Any] | None:
        """Ask before sending a megabyte over a weak link: a retry after a lost answer is free."""
        try:
            response = await self.http.get(
                "/v1/submissions/lookup",
                params={"tps": self.profile.tps, "contest": contest, "page": page, "sha256": sha},
            )
        except httpx.TransportError:
            return None
        if response.status_code != 200:
            return None
        known: dict[str, Any] = response.json()
        return known

    async def _create(self, claim: UploadClaim, length: int) -> str:
        signature = sign(self.profile.key(), claim.signed_bytes())
        response = await self._with_retries(
            lambda: self.http.post(
                "/v1/tus",
                headers={
                    **TUS,
                    "Upload-Length": str(length),
                    "Upload-Metadata": self._metadata(claim, signature),
                },
            )
        )
        return str(httpx.URL(str(self.http.base_url)).join(response.headers["Location"]))

    async def _offset(self, url: str) -> int:
        response = await self._with_retries(lambda: self.http.head(url, headers=TUS))
        return int(response.headers["Upload-Offset"])

    async def _with_retries(self, send: Callable[[], Any]) -> httpx.Response:
        for attempt in range(self.backoff.attempts + 1):
            try:
                response: httpx.Response = await send()
            except httpx.TransportError:
                response = None  # type: ignore[assignment]
            if response is not None and response.status_code < 400:
                return response
            if response is not None and response.status_code not in RETRYABLE_STATUS:
                raise UploadRefused(response.status_code, _json_or_text(response))
            if attempt < self.backoff.attempts:
                retry_after = response.headers.get("Retry-After") if response is not None else None
                delay = (
                    float(retry_after)
                    if retry_after and retry_after.isdigit()
                    else (self.backoff.delay(attempt + 1))
                )
                await self.backoff.sleep(delay)
        raise ConnectionError(f"gave up after {self.backoff.attempts + 1} attempts")

    def _state_path(self, sha: str, contest: str, page: int) -> Path | None:
        if self.state_dir is None:
            return None
        return self.state_dir / f"{contest}-{page}-{sha[:16]}.json"

    def _load_state(self, sha: str, contest: str, page: int) -> dict[str, str]:
        path = self._state_path(sha, contest, page)
        if path is None or not path.exists():
            return {}
        data: dict[str, str] = json.loads(path.read_text())
        return data

    def _save_state(self, sha: str, contest: str, page: int, state: dict[str, str]) -> None:
        path = self._state_path(sha, contest, page)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(state))

    def _forget_state(self, sha: str, contest: str, page: int) -> None:
        path = self._state_path(sha, contest, page)
        if path is not None:
            path.unlink(missing_ok=True)
