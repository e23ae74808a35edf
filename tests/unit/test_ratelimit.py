"""Token buckets on a fake clock: bursts, refill, Retry-After, check-without-charge, pruning."""

from __future__ import annotations

import base64

import httpx
import pytest
from fastapi import FastAPI

from shared.ratelimit import (
    Limits,
    MemoryBuckets,
    Rule,
    address_of,
    device_of,
    install_rate_limits,
    sign_in_routes,
)
from shared.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


RULE = Rule("test", burst=3, per_minute=60)  # one token a second


def test_a_burst_passes_then_the_next_waits_for_one_token() -> None:
    clock = Clock()
    buckets = MemoryBuckets(clock)
    assert [buckets.take("k", RULE) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("k", RULE) == pytest.approx(1.0)
    clock.now += 0.5
    assert buckets.take("k", RULE) == pytest.approx(0.5)
    clock.now += 0.5
    assert buckets.take("k", RULE) == 0.0


def test_refill_never_exceeds_the_burst() -> None:
    clock = Clock()
    buckets = MemoryBuckets(clock)
    buckets.take("k", RULE)
    clock.now += 3600
    assert [buckets.take("k", RULE) for _ in range(4)][-1] > 0


def test_keys_are_independent() -> None:
    buckets = MemoryBuckets(Clock())
    for _ in range(3):
        buckets.take("a", RULE)
    assert buckets.take("a", RULE) > 0
    assert buckets.take("b", RULE) == 0.0


def test_cost_zero_checks_without_charging() -> None:
    buckets = MemoryBuckets(Clock())
    assert all(buckets.take("k", RULE, cost=0) == 0.0 for _ in range(10))
    assert [buckets.take("k", RULE) for _ in range(4)][-1] > 0
    assert buckets.take("k", RULE, cost=0) > 0


def test_memory_is_bounded() -> None:
    clock = Clock()
    buckets = MemoryBuckets(clock, max_buckets=100)
    for i in range(1000):
        clock.now += 1
        buckets.take(f"k{i}", RULE)
    assert len(buckets) <= 100


def test_a_rule_with_no_burst_is_off() -> None:
    assert not Rule("off", 0, 60).enabled
    assert Rule("on", 1, 60).enabled


def _scope(headers: list[tuple[bytes, bytes]]) -> dict[str, object]:
    return {"type": "http", "headers": headers, "client": ("10.1.2.3", 5555)}


def test_the_device_comes_from_the_header_or_tus_metadata() -> None:
    encoded = base64.b64encode(b"dev-1").decode()
    assert device_of(_scope([(b"sirekap-device", b"dev-0")])) == "dev-0"
    meta = f"tps MTIz,device {encoded}".encode()
    assert device_of(_scope([(b"upload-metadata", meta)])) == "dev-1"
    assert device_of(_scope([(b"upload-metadata", b"device !!notbase64")])) is None
    assert device_of(_scope([])) is None
    assert address_of(_scope([])) == "10.1.2.3"


async def test_the_middleware_answers_429_json_with_retry_after() -> None:
    """On a bare app with the sign-in rule the tally can adopt: over budget → 429 JSON."""
    app = FastAPI()

    @app.post("/api/v1/auth/login")
    async def login() -> dict[str, str]:
        return {"token": "t"}

    limits = Limits.from_settings(
        Settings(rate_enrol_address_burst=2, rate_enrol_address_per_min=1)
    )
    install_rate_limits(app, sign_in_routes(limits), MemoryBuckets(Clock()))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        statuses = [(await http.post("/api/v1/auth/login")).status_code for _ in range(2)]
        refused = await http.post("/api/v1/auth/login")
    assert statuses == [200, 200]
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    body = refused.json()
    assert body["error"] == "TooManyRequests" and body["detail"] and body["detail_id"]
