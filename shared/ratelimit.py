"""Rate limits: token buckets per device and per client address, refused with 429 + Retry-After.

What is limited is what costs the server work or guards a secret: single uploads and tus
*creations* (each one a signature check, a decode and a hand-off), device enrolment (one-time
codes) and the issuing of codes. tus PATCHes are never limited: a phone on a weak link resumes
one upload with many PATCHes, and each only continues an upload that was already admitted.

Two keys per request:

- **the client address**, charged before anything else runs. Indonesian mobile carriers put
  whole districts behind carrier-grade NAT, so many honest phones share one address: the
  default is generous and only stops a flood.
- **the device** (`Sirekap-Device`, or `device` in tus `Upload-Metadata`), *checked* before the
  handler runs but *charged* only when the request succeeded (2xx). Only a valid signature
  makes a 2xx, so someone who knows a device id cannot spend that device's budget with forged
  requests; the forger's own requests are charged to its address.

The store sits behind `BucketStore`. `MemoryBuckets` keeps buckets in this process, which is
exact for one replica and per-replica for several (N replicas allow up to N× the rate). A
cluster-wide store keeps the same two numbers per key in PostgreSQL
(`UPDATE buckets SET tokens = least(cap, tokens + rate * (now() - at)) - 1, at = now()
WHERE key = $1 AND ... RETURNING tokens`) or in Redis (one Lua script doing the same
arithmetic atomically, with a TTL of capacity / rate); see docs/security.md.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.logs import current_request_id
from shared.settings import Settings

RETRY_DETAIL_ID = "Terlalu banyak permintaan; coba lagi dalam {s} detik."
# Buckets kept in memory before full (idle) ones are dropped: ~100 bytes each, so ~10 MB.
MAX_BUCKETS = 100_000


@dataclass(frozen=True, slots=True)
class Rule:
    """`burst` requests at once, refilled at `per_minute`; a burst of 0 switches the rule off."""

    name: str
    burst: int
    per_minute: float

    @property
    def enabled(self) -> bool:
        return self.burst > 0 and self.per_minute > 0

    @property
    def per_second(self) -> float:
        return self.per_minute / 60.0


class BucketStore(Protocol):
    """Where bucket levels live. `take` with `cost=0` only asks whether one token is there."""

    def take(self, key: str, rule: Rule, cost: int = 1) -> float:
        """0 if the tokens were available (and, with cost > 0, taken); else seconds to wait."""
        ...


class MemoryBuckets:
    """Token buckets in this process. `clock` is injectable so tests need no real waiting."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_buckets: int = MAX_BUCKETS
    ) -> None:
        self._clock = clock
        self._max = max_buckets
        self._levels: dict[str, tuple[float, float]] = {}  # key → (tokens, at)

    def __len__(self) -> int:
        return len(self._levels)

    def take(self, key: str, rule: Rule, cost: int = 1) -> float:
        now = self._clock()
        tokens, at = self._levels.get(key, (float(rule.burst), now))
        tokens = min(float(rule.burst), tokens + (now - at) * rule.per_second)
        needed = max(cost, 1)
        if tokens < needed:
            self._store(key, tokens, now)
            return (needed - tokens) / rule.per_second
        self._store(key, tokens - cost, now)
        return 0.0

    def _store(self, key: str, tokens: float, now: float) -> None:
        if key not in self._levels and len(self._levels) >= self._max:
            self._prune(now)
        self._levels[key] = (tokens, now)

    def _prune(self, now: float) -> None:
        """Drop the oldest half: a bucket untouched longest is the likeliest to be full again."""
        by_age = sorted(self._levels.items(), key=lambda item: item[1][1])
        for key, _ in by_age[: max(len(by_age) // 2, 1)]:
            del self._levels[key]


@dataclass(frozen=True, slots=True)
class Limits:
    upload_address: Rule
    upload_device: Rule
    enrol_address: Rule

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            upload_address=Rule(
                "upload/address",
                settings.rate_upload_address_burst,
                settings.rate_upload_address_per_min,
            ),
            upload_device=Rule(
                "upload/device",
                settings.rate_upload_device_burst,
                settings.rate_upload_device_per_min,
            ),
            enrol_address=Rule(
                "enrol/address",
                settings.rate_enrol_address_burst,
                settings.rate_enrol_address_per_min,
            ),
        )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def device_of(scope: Scope) -> str | None:
    """The device a request claims to come from (unverified: used only as a bucket key)."""
    device = _header(scope, b"sirekap-device")
    if device:
        return device[:64]
    metadata = _header(scope, b"upload-metadata")
    if not metadata:
        return None
    for pair in metadata.split(",")[:32]:
        parts = pair.strip().split(" ")
        if parts[0] == "device" and len(parts) == 2:
            try:
                return base64.b64decode(parts[1], validate=True).decode()[:64]
            except (binascii.Error, UnicodeDecodeError):
                return None
    return None


def address_of(scope: Scope) -> str:
    """The peer address. Behind a proxy, run uvicorn with --proxy-headers and
    --forwarded-allow-ips so this is the client's, not the proxy's."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


async def refuse(send: Send, wait_s: float, rule: Rule) -> None:
    seconds = max(1, math.ceil(wait_s))
    body = json.dumps(
        {
            "error": "TooManyRequests",
            "detail": f"rate limit {rule.name} exceeded; retry in {seconds} s",
            "detail_id": RETRY_DETAIL_ID.format(s=seconds),
            "retry_after": seconds,
            "request_id": current_request_id(),
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(seconds).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RateLimitMiddleware:
    """A plain ASGI middleware (like `RequestIdMiddleware`: no per-chunk overhead on bodies).

    `routes` maps (method, path) to (address rule, device rule or None).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        store: BucketStore,
        routes: dict[tuple[str, str], tuple[Rule, Rule | None]],
    ) -> None:
        self.app = app
        self.store = store
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rules = (
            self.routes.get((scope["method"], scope["path"].rstrip("/")))
            if scope["type"] == "http"
            else None
        )
        if rules is None:
            await self.app(scope, receive, send)
            return
        address_rule, device_rule = rules
        if address_rule.enabled:
            wait = self.store.take(f"{address_rule.name}:{address_of(scope)}", address_rule)
            if wait:
                await refuse(send, wait, address_rule)
                return
        device = device_of(scope) if device_rule is not None and device_rule.enabled else None
        if device is None or device_rule is None:
            await self.app(scope, receive, send)
            return
        device_key = f"{device_rule.name}:{device}"
        wait = self.store.take(device_key, device_rule, cost=0)
        if wait:
            await refuse(send, wait, device_rule)
            return
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        await self.app(scope, receive, watch)
        if 200 <= status < 300:
            self.store.take(device_key, device_rule)


def ingest_routes(limits: Limits) -> dict[tuple[str, str], tuple[Rule, Rule | None]]:
    return {
        ("POST", "/v1/uploads"): (limits.upload_address, limits.upload_device),
        ("POST", "/v1/tus"): (limits.upload_address, limits.upload_device),
        ("POST", "/v1/devices"): (limits.enrol_address, None),
        ("POST", "/v1/enrolment-codes"): (limits.enrol_address, None),
    }


def sign_in_routes(limits: Limits) -> dict[tuple[str, str], tuple[Rule, Rule | None]]:
    """For the tally service's password sign-in (not wired here: that app is not ours)."""
    return {("POST", "/api/v1/auth/login"): (limits.enrol_address, None)}


def install_rate_limits(
    app: Starlette,
    routes: dict[tuple[str, str], tuple[Rule, Rule | None]],
    store: BucketStore | None = None,
) -> BucketStore:
    """Add the middleware to an app; returns the store."""
    store = store or MemoryBuckets()
    app.add_middleware(RateLimitMiddleware, store=store, routes=routes)
    return store


def install_ingest_rate_limits(app: Starlette, settings: Settings) -> BucketStore:
    return install_rate_limits(app, ingest_routes(Limits.from_settings(settings)))
