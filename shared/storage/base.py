"""The photo store: one small interface, two real backends (a local folder and S3/MinIO).

Every method is async; the backends run their blocking calls (file I/O, the `minio` SDK) in
threads so the event loop keeps serving requests. `put` is atomic: an object appears whole or
not at all, so a crash never leaves a half-written photo under its content address.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable


@runtime_checkable
class ObjectStore(Protocol):
    async def put(self, key: str, data: bytes | bytearray | memoryview, content_type: str) -> None:
        """Store `data` under `key`, replacing nothing partially."""

    async def put_new(
        self,
        key: str,
        data: bytes | bytearray | memoryview,
        content_type: str,
        *,
        sha256: str | None = None,
    ) -> bool:
        """`put`, and whether this write created the object: True when no object was there
        before it, so the object's modification time is this write's; False when one was
        (it is replaced, as by `put`) or the backend cannot tell. `sha256` (hex), when the
        caller knows it, spares the backend hashing `data` again to sign its request."""

    async def get(self, key: str) -> bytes:
        """The whole object; raises `ObjectMissing` when there is none."""

    async def size(self, key: str) -> int | None:
        """The object's size in bytes, or None when there is none."""

    async def modified_at(self, key: str) -> datetime | None:
        """When the object was last written (UTC), or None when there is none."""

    async def delete(self, key: str) -> None:
        """Remove the object; a missing object is not an error."""

    async def list(self, prefix: str) -> list[str]:
        """Keys that start with `prefix`, sorted."""

    async def check(self) -> None:
        """Raise `StorageUnavailable` unless the store answers (for /readyz)."""

    async def close(self) -> None: ...


class StorageError(Exception):
    pass


class ObjectMissing(StorageError):
    pass


class StorageUnavailable(StorageError):
    pass


def photo_key(sha256_hex: str) -> str:
    """Photos are content-addressed; two hex digits of fan-out keep local folders small."""
    return f"photos/{sha256_hex[:2]}/{sha256_hex}"


UPLOAD_CHUNKS = "uploads/"  # the prefix of every chunk key


def upload_chunk_key(upload_id: str, offset: int) -> str:
    """Chunks of a resumable upload, named by their offset so a listing sorts them in order."""
    return f"{UPLOAD_CHUNKS}{upload_id}/{offset:012d}"


def upload_of_chunk(key: str) -> str | None:
    """The upload a chunk key belongs to (`upload_chunk_key`'s, whatever suffix follows the
    offset), or None when `key` is not a chunk key."""
    parts = key.split("/")
    return parts[1] if len(parts) == 3 and key.startswith(UPLOAD_CHUNKS) else None
