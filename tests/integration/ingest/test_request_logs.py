"""Through the ingest app: each request writes one access line with the response's request id;
a sane incoming X-Request-Id is kept, a hostile one replaced."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.integration.ingest.conftest import Ingest
from tests.support.logs import CapturedLog, captured_json_log

HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def access_log() -> Iterator[CapturedLog]:
    with captured_json_log("sirekap.access", "ingest") as log:
        yield log


async def test_an_access_line_carries_the_response_request_id(
    ingest: Ingest, access_log: CapturedLog
) -> None:
    response = await ingest.http.get("/v1/submissions/no-such-id")
    assert response.status_code == 404
    request_id = response.headers["X-Request-Id"]
    assert HEX32.fullmatch(request_id)
    assert response.json()["request_id"] == request_id
    (entry,) = access_log.entries()
    assert entry["request_id"] == request_id
    assert entry["logger"] == "sirekap.access" and entry["service"] == "ingest"
    assert (entry["method"], entry["path"], entry["status"]) == (
        "GET",
        "/v1/submissions/no-such-id",
        404,
    )
    assert entry["duration_ms"] >= 0


async def test_a_sane_incoming_request_id_is_honoured(
    ingest: Ingest, access_log: CapturedLog
) -> None:
    response = await ingest.http.get(
        "/v1/submissions/no-such-id?token=query-secret",
        headers={"X-Request-ID": "nginx-3fa85f64.1:x", "Authorization": "Bearer header-secret"},
    )
    assert response.headers["X-Request-Id"] == "nginx-3fa85f64.1:x"
    assert response.json()["request_id"] == "nginx-3fa85f64.1:x"
    assert [e["request_id"] for e in access_log.entries()] == ["nginx-3fa85f64.1:x"]
    logged = access_log.stream.getvalue()
    assert "header-secret" not in logged and "query-secret" not in logged


@pytest.mark.parametrize(
    "hostile",
    ["a" * 65, "abc\ninjected", "abc\r\nX-Admin: 1", '{"request_id": 1}', "ünïcode"],
    ids=["too-long", "newline", "crlf-header", "json", "non-ascii"],
)
async def test_a_hostile_request_id_is_replaced(
    ingest: Ingest, access_log: CapturedLog, hostile: str
) -> None:
    response = await ingest.http.get(
        "/v1/submissions/no-such-id", headers=[(b"X-Request-ID", hostile.encode())]
    )
    assert response.status_code == 404
    request_id = response.headers["X-Request-Id"]
    assert HEX32.fullmatch(request_id), request_id
    assert "X-Admin" not in response.headers
    (entry,) = access_log.entries()
    assert entry["request_id"] == request_id


async def test_every_response_gets_its_own_id_and_probes_stay_quiet(
    ingest: Ingest, access_log: CapturedLog
) -> None:
    ids = set()
    for path in ("/healthz", "/readyz", "/v1/submissions/x", "/v1/submissions/y"):
        ids.add((await ingest.http.get(path)).headers["X-Request-Id"])
    assert len(ids) == 4
    # Probes log at DEBUG: at INFO only the two real requests are there.
    assert [e["path"] for e in access_log.entries()] == ["/v1/submissions/x", "/v1/submissions/y"]


async def test_refusals_before_any_route_carry_the_id_too(
    ingest: Ingest, access_log: CapturedLog
) -> None:
    response = await ingest.http.get("/v1/submissions/x", headers={"X-Big": "b" * 20_000})
    assert response.status_code == 431
    assert response.json()["request_id"] == response.headers["X-Request-Id"]
    (entry,) = access_log.entries()
    assert (entry["status"], entry["request_id"]) == (431, response.headers["X-Request-Id"])
