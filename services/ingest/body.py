"""Read a request body into one buffer while hashing it, refusing it as soon as it is too big."""

from __future__ import annotations

import hashlib

from fastapi import Request
from starlette.requests import ClientDisconnect

from shared.errors import BadRequest, PayloadTooLarge


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
    """
    buffer = bytearray()
    digest = hashlib.sha256()
    try:
        async for chunk in request.stream():
            if len(buffer) + len(chunk) > limit:
                raise too_large(limit)
            buffer += chunk
            digest.update(chunk)
    except ClientDisconnect:
        if not keep_partial:
            raise
        return ReadResult(buffer, digest.hexdigest(), complete=False)
    return ReadResult(buffer, digest.hexdigest(), complete=True)
