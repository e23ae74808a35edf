"""Read a request body into one buffer while hashing it, refusing it as soon as it is too big.

A body that trickles is cut off: no byte for `body_idle_timeout_s`, or longer than
`body_total_timeout_s` in all, answers 408 (a resumable upload keeps what arrived, as on a
dropped link). Uvicorn has no such deadline of its own once the headers are in.
"""

from __future__ import annotations

import asyncio
import hashlib

from fastapi import Request
from starlette.requests import ClientDisconnect

from shared.errors import BadRequest, PayloadTooLarge, SirekapError
from shared.settings import Settings


class RequestTimeout(SirekapError):
    """The request body arrived too slowly."""

    status_code = 408
    detail_id_default = "Koneksi terlalu lambat; foto tidak diterima utuh. Kirim ulang."


def _timeouts(request: Request) -> tuple[float, float]:
    """(idle, total) from the app's settings; the defaults of `Settings` otherwise."""
    state = getattr(request.app.state, "ingest", None)
    settings = getattr(state, "settings", None)
    if not isinstance(settings, Settings):
        fields = Settings.model_fields
        return fields["body_idle_timeout_s"].default, fields["body_total_timeout_s"].default
    return settings.body_idle_timeout_s, settings.body_total_timeout_s


def declared_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    if not raw.isdigit():
        raise BadRequest("Content-Length is not a number", "Header Content-Length tidak valid.")
    return int(raw)


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the body exceeds the limit of {limit:,} bytes",
        f"Foto melebihi batas {limit // (1024 * 1024)} MiB. Kirim foto berukuran lebih kecil.",
    )


class ReadResult:
    __slots__ = ("buffer", "complete", "sha256")

    def __init__(self, buffer: bytearray, sha256: str, complete: bool) -> None:
        self.buffer = buffer
        self.sha256 = sha256
        self.complete = complete


async def read_body(request: Request, limit: int, *, keep_partial: bool = False) -> ReadResult:
    """The body as one bytearray (the only copy held) and its SHA-256, computed as it streams.

    With `keep_partial`, a client that disconnects mid-body yields what arrived
    (`complete=False`), which a resumable upload keeps; otherwise the disconnect propagates.

    With a Content-Length within `limit`, the buffer is allocated once at that size and filled
    in place: grown chunk by chunk, a 1 MiB buffer was reallocated and copied some twenty times.
    """
    declared = request.headers.get("content-length", "")
    size = int(declared) if declared.isdigit() and 0 < int(declared) <= limit else 0
    buffer = bytearray(size)
    filled = 0
    digest = hashlib.sha256()
    idle_s, total_s = _timeouts(request)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + total_s
    stream = request.stream()

    def result(complete: bool) -> ReadResult:
        del buffer[filled:]  # what was declared but never arrived
        return ReadResult(buffer, digest.hexdigest(), complete=complete)

    try:
        while True:
            left = deadline - loop.time()
            try:
                if left <= 0:
                    raise TimeoutError
                async with asyncio.timeout(min(idle_s, left)):  # no task per chunk (wait_for)
                    chunk = await anext(stream)
            except StopAsyncIteration:
                break
            except TimeoutError:
                if keep_partial:
                    return result(complete=False)
                why = f"no byte for {idle_s:g} s" if left > idle_s else f"over {total_s:g} s"
                raise RequestTimeout(
                    f"the body arrived too slowly: {why}, after {filled:,} bytes"
                ) from None
            end = filled + len(chunk)
            if end > limit:
                raise too_large(limit)
            if end <= len(buffer):
                buffer[filled:end] = chunk  # same length: a copy in place, no resize
            else:  # more than declared (uvicorn refuses that; tolerated here all the same)
                del buffer[filled:]
                buffer += chunk
            filled = end
            digest.update(chunk)
    except ClientDisconnect:
        if not keep_partial:
            raise
        return result(complete=False)
    finally:
        await stream.aclose()
    return result(complete=True)
