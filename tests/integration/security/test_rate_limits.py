"""Rate limits wired into the ingest app: 429 + Retry-After + the JSON error shape; tus PATCHes
never limited; forged requests cannot spend a real device's budget."""

from __future__ import annotations

import hashlib
from base64 import b64encode

import pytest

from shared.settings import Settings
from tests.integration.ingest.conftest import Ingest
from tests.integration.security.conftest import (
    TUS,
    assert_refusal,
    footprint,
    post_single,
    tus_create,
)
from tests.support.photos import make_jpeg


@pytest.fixture
def ingest_settings(ingest_settings: Settings) -> Settings:
    """Tiny budgets so a handful of requests reach them; the clock never needs to move."""
    return ingest_settings.model_copy(
        update={
            "rate_upload_device_burst": 2,
            "rate_upload_device_per_min": 1,
            "rate_upload_address_burst": 20,
            "rate_upload_address_per_min": 1,
            "rate_enrol_address_burst": 3,
            "rate_enrol_address_per_min": 1,
        }
    )


async def test_a_device_over_its_budget_gets_429_and_nothing_is_stored(ingest: Ingest) -> None:
    profile = await ingest.device()
    for seed in (1, 2):
        assert (await post_single(ingest.http, profile, make_jpeg(seed))).status_code == 201
    before = await footprint(ingest)
    res = await post_single(ingest.http, profile, make_jpeg(3))
    body = assert_refusal(res, 429)
    assert body["error"] == "TooManyRequests"
    assert "coba lagi" in body["detail_id"]
    assert int(res.headers["Retry-After"]) >= 1
    # tus creation shares the device's budget
    assert_refusal(await tus_create(ingest.http, profile, make_jpeg(4)), 429)
    assert await footprint(ingest) == before
    # another device at the same address is unaffected
    other = await ingest.device()
    assert (await post_single(ingest.http, other, make_jpeg(5))).status_code == 201


async def test_forged_requests_do_not_spend_a_real_devices_budget(ingest: Ingest) -> None:
    profile = await ingest.device()
    photo = make_jpeg(1)
    for _ in range(5):  # someone who knows the device id, without its key
        res = await ingest.http.post(
            "/v1/uploads",
            params={
                "tps": profile.tps,
                "contest": "PPWP",
                "page": 1,
                "sha256": hashlib.sha256(photo).hexdigest(),
                "captured_at": "2024-02-14T13:00:00Z",
            },
            headers={
                "Sirekap-Device": profile.device_id,
                "Sirekap-Signature": b64encode(b"\0" * 64).decode(),
            },
            content=photo,
        )
        assert_refusal(res, 401)
    assert (await post_single(ingest.http, profile, photo)).status_code == 201


async def test_many_patches_of_one_upload_are_never_limited(ingest: Ingest) -> None:
    profile = await ingest.device()
    photo = make_jpeg(7)
    created = await tus_create(ingest.http, profile, photo)
    assert created.status_code == 201, created.text
    url = created.headers["Location"]
    chunk = 4096  # far more PATCHes than any budget above
    offset = 0
    patches = 0
    while offset < len(photo):
        res = await ingest.http.patch(
            url,
            content=photo[offset : offset + chunk],
            headers={
                **TUS,
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
            },
        )
        assert res.status_code == 204, res.text
        offset = int(res.headers["Upload-Offset"])
        patches += 1
    assert patches > 20
    assert "Sirekap-Submission-Id" in res.headers


async def test_enrolment_attempts_are_limited_per_address(ingest: Ingest) -> None:
    bad = {
        "tps": "1708011007001",
        "code": "AAAAA-AAAAA",
        "public_key": b64encode(b"\1" * 32).decode(),
        "proof": b64encode(b"\0" * 64).decode(),
    }
    statuses = [(await ingest.http.post("/v1/devices", json=bad)).status_code for _ in range(3)]
    assert 429 not in statuses
    res = await ingest.http.post("/v1/devices", json=bad)
    assert_refusal(res, 429)
    assert "Retry-After" in res.headers
    assert "X-Request-Id" in res.headers
