"""The HTTP layer under a real uvicorn, driven with raw sockets: oversized heads, bodies longer
or shorter than declared, bodies that trickle, idle keep-alive connections.

What uvicorn (h11) refuses itself answers a plain-text 400 (the app never sees it); what reaches
the app answers the JSON error shape. Nothing here may answer 5xx or store anything.
"""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
import uvicorn

from clients.kpps.client import enroll
from clients.kpps.profile import Profile
from services.ingest.app import create_app
from shared.db.migrate import upgrade
from shared.settings import Settings
from tests.integration.ingest.conftest import TPS
from tests.integration.security.conftest import signed_claim, single_upload_request, tus_metadata
from tests.support.live import LiveIngest, free_port, load_reference_sync, run_sync
from tests.support.photos import make_jpeg

IDLE_S = 0.5  # the body idle deadline under test; the socket waits far longer than this
TOTAL_S = 2.0  # the whole-body deadline under test
SOCKET_WAIT_S = 10.0


@dataclass
class Live:
    port: int
    settings: Settings
    profile: Profile

    def footprint(self) -> tuple[int, ...]:
        db = sqlite3.connect(self.settings.data_dir / "sirekap.db")
        try:
            rows = tuple(
                int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
                for table in ("submissions", "upload_sessions", "ocr_jobs", "audit_events")
            )
        finally:
            db.close()
        objects = self.settings.resolved_storage_path
        files = sum(1 for p in objects.rglob("*") if p.is_file()) if objects.exists() else 0
        return (*rows, files)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    data = tmp_path_factory.mktemp("live")
    url = f"sqlite+aiosqlite:///{data / 'sirekap.db'}"
    upgrade(url)
    settings = Settings(
        environment="test",
        data_dir=data,
        database_url=url,
        auth_secret="t" * 32,
        body_idle_timeout_s=IDLE_S,
        body_total_timeout_s=TOTAL_S,
    )
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="error", timeout_keep_alive=1
    )
    server = uvicorn.Server(config)
    load_reference_sync(settings, "17.08.01")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    base = f"http://127.0.0.1:{port}"
    code = LiveIngest(url=base, settings=settings).issue_code(TPS)
    profile = run_sync(lambda: enroll(base, TPS, code))
    assert isinstance(profile, Profile)
    try:
        yield Live(port=port, settings=settings, profile=profile)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def exchange(port: int, *parts: bytes) -> bytes:
    """Send `parts` on one connection, then read until the server closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.settimeout(SOCKET_WAIT_S)
        for part in parts:
            conn.sendall(part)
        received = b""
        try:
            while chunk := conn.recv(65536):
                received += chunk
                if b"\r\n\r\n" in received and _complete(received):
                    break
        except TimeoutError:
            pass
    return received


def _complete(received: bytes) -> bool:
    head, _, body = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def status_of(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), response[:200]
    return int(response.split(b" ", 2)[1])


def json_refusal(response: bytes, status: int) -> bytes:
    assert status_of(response) == status, response[:500]
    head, _, body = response.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower()
    assert b'"detail_id"' in body and b'"detail"' in body
    return body


def upload_head(live: Live, photo: bytes, length: int, signed_body: bytes | None = None) -> bytes:
    params, headers = single_upload_request(live.profile, signed_body or photo)
    lines = [
        f"POST /v1/uploads?{urlencode(params)} HTTP/1.1",
        "Host: ingest",
        f"Content-Length: {length}",
        "Content-Type: image/jpeg",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_one_oversized_header_gets_431_json(live: Live) -> None:
    big = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n"
    json_refusal(exchange(live.port, big), 431)


def test_too_many_headers_get_431_json(live: Live) -> None:
    many = b"".join(b"X-%d: a\r\n" % i for i in range(500))
    json_refusal(exchange(live.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n"), 431)


def test_an_overlong_query_gets_414_json(live: Live) -> None:
    request = b"GET /v1/submissions/lookup?tps=" + b"1" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    json_refusal(exchange(live.port, request), 414)


@pytest.mark.parametrize(
    "head",
    [
        b"POST /v1/devices HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"POST /v1/devices HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n",
        b"POST /v1/devices HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"GET /he\xffllz HTTP/1.1\r\nHost: x\r\nX-A: \x00\r\n\r\n",
        b"NOT-HTTP\r\n\r\n",
    ],
    ids=["cl-not-a-number", "cl-and-chunked", "two-cl", "bad-bytes", "not-http"],
)
def test_malformed_heads_get_400_from_the_server(live: Live, head: bytes) -> None:
    assert status_of(exchange(live.port, head)) == 400


def test_a_body_longer_than_declared_is_refused_and_nothing_is_stored(live: Live) -> None:
    photo = make_jpeg(11)
    before = live.footprint()
    declared = len(photo) - 1000  # the server reads this much; the rest is not a request
    response = exchange(live.port, upload_head(live, photo, declared), photo)
    assert 400 <= status_of(response) < 500, response[:300]
    assert live.footprint() == before


def test_a_body_shorter_than_declared_that_stalls_gets_408_json(live: Live) -> None:
    photo = make_jpeg(12)
    before = live.footprint()
    response = exchange(live.port, upload_head(live, photo, len(photo)), photo[:5000])
    body = json_refusal(response, 408)
    assert b"RequestTimeout" in body and b"no byte for 0.5 s" in body
    assert live.footprint() == before


def test_a_trickling_body_is_cut_off_by_the_total_deadline(live: Live) -> None:
    """A byte at a time, each well inside the idle deadline: only the total one can stop it."""
    photo = make_jpeg(13)
    before = live.footprint()
    received = b""
    with socket.create_connection(("127.0.0.1", live.port)) as conn:
        conn.sendall(upload_head(live, photo, len(photo)))
        conn.settimeout(IDLE_S / 5)
        for i in range(len(photo)):  # ends long before: the server answers and closes
            try:
                conn.sendall(photo[i : i + 1])
                received += conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if b"\r\n\r\n" in received and _complete(received):
                break
    assert received, "the server never answered"
    body = json_refusal(received, 408)
    assert b"over 2 s" in body
    assert live.footprint() == before


def test_an_idle_keep_alive_connection_is_closed_by_the_server(live: Live) -> None:
    with socket.create_connection(("127.0.0.1", live.port)) as conn:
        conn.settimeout(SOCKET_WAIT_S)  # far above the server's keep-alive timeout (1 s)
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while chunk := conn.recv(65536):  # b"" once the server closes; TimeoutError if never
            received += chunk
    assert status_of(received) == 200


def test_a_stalled_tus_patch_keeps_what_arrived(live: Live) -> None:
    """A resumable upload that stalls is not refused: the bytes that came are kept, as on a
    dropped link, and the answer says where to resume."""
    photo = make_jpeg(14)
    claim, signature = signed_claim(live.profile, photo)
    create = (
        "POST /v1/tus HTTP/1.1\r\nHost: ingest\r\nTus-Resumable: 1.0.0\r\n"
        f"Upload-Length: {len(photo)}\r\nUpload-Metadata: {tus_metadata(claim, signature)}\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    created = exchange(live.port, create)
    assert status_of(created) == 201, created[:300]
    location = next(
        line.split(b":", 1)[1].strip().decode()
        for line in created.split(b"\r\n")
        if line.lower().startswith(b"location:")
    )
    path = "/" + location.split("/", 3)[3]
    patch_head = (
        f"PATCH {path} HTTP/1.1\r\nHost: ingest\r\nTus-Resumable: 1.0.0\r\n"
        "Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
        f"Content-Length: {len(photo)}\r\n\r\n"
    ).encode()
    answer = exchange(live.port, patch_head, photo[:20_000])
    assert status_of(answer) == 204, answer[:300]
    assert b"upload-offset: 20000" in answer.lower()
