"""S3-protocol storage through the `minio` SDK (MinIO in production, moto's server in tests).

The SDK is synchronous; every call runs in a thread. The SDK's default urllib3 pool holds 10
connections, fewer than the concurrent uploads of one ingest replica, so it is sized here.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import urllib3
from minio import Minio
from minio.error import InvalidResponseError, S3Error, ServerError

from shared.storage.base import ObjectMissing, StorageUnavailable

POOL_CONNECTIONS = 64
_MISSING_CODES = frozenset({"NoSuchKey", "NoSuchObject", "NoSuchBucket", "ResourceNotFound"})
_OUTAGE_CODES = frozenset(
    {
        "ServiceUnavailable",
        "SlowDown",
        "InternalError",
        "XMinioStorageFull",
        "XMinioServerNotInitialized",
    }
)
T = TypeVar("T")


def _call(fn: Callable[[], T]) -> T:
    """Run one SDK call; an unreachable or overloaded server becomes `StorageUnavailable`, which
    the services answer with 503 and Retry-After instead of 500."""
    try:
        return fn()
    except S3Error as exc:
        # A 5xx answer is the server's trouble whatever its code; a HEAD (stat) carries no
        # body, so only its status says "storage full" or "unavailable".
        status = getattr(getattr(exc, "response", None), "status", 0) or 0
        if exc.code in _OUTAGE_CODES or status >= 500:
            raise StorageUnavailable(f"S3 {exc.code} ({status}): {exc.message}") from exc
        raise
    except (ServerError, InvalidResponseError) as exc:  # a 5xx without an S3 error body
        raise StorageUnavailable(f"S3 server error: {exc}") from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise StorageUnavailable(f"S3 unreachable: {exc}") from exc


class _ViewReader(io.RawIOBase):
    """A read-only file over a buffer, so `put_object` does not copy the photo once more."""

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._view = memoryview(data).cast("B")
        self._pos = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else self._pos + size
        chunk = self._view[self._pos : end].tobytes()
        self._pos += len(chunk)
        return chunk


class S3ObjectStore:
    def __init__(
        self,
        *,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool = False,
        region: str = "us-east-1",
    ) -> None:
        http = urllib3.PoolManager(
            maxsize=POOL_CONNECTIONS,
            timeout=urllib3.Timeout(connect=5, read=60),
            retries=urllib3.Retry(
                total=3, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
            ),
        )
        self.client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=http,
        )
        self.bucket = bucket

    async def ensure_bucket(self) -> None:
        def _ensure() -> None:
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket)

        await asyncio.to_thread(_call, _ensure)

    async def put(self, key: str, data: bytes | bytearray | memoryview, content_type: str) -> None:
        length = memoryview(data).nbytes

        def _put() -> None:
            self.client.put_object(
                self.bucket,
                key,
                _ViewReader(data),  # type: ignore[arg-type]  # a readable stream
                length,
                content_type=content_type,
            )

        await asyncio.to_thread(_call, _put)

    async def get(self, key: str) -> bytes:
        def _get() -> bytes:
            try:
                response = self.client.get_object(self.bucket, key)
            except S3Error as exc:
                if exc.code in _MISSING_CODES:
                    raise ObjectMissing(key) from exc
                raise
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        return await asyncio.to_thread(_call, _get)

    async def size(self, key: str) -> int | None:
        def _size() -> int | None:
            try:
                return self.client.stat_object(self.bucket, key).size
            except S3Error as exc:
                if exc.code in _MISSING_CODES:
                    return None
                raise

        return await asyncio.to_thread(_call, _size)

    async def modified_at(self, key: str) -> datetime | None:
        def _modified() -> datetime | None:
            try:
                return self.client.stat_object(self.bucket, key).last_modified
            except S3Error as exc:
                if exc.code in _MISSING_CODES:
                    return None
                raise

        return await asyncio.to_thread(_call, _modified)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(_call, lambda: self.client.remove_object(self.bucket, key))

    async def list(self, prefix: str) -> list[str]:
        def _list() -> list[str]:
            objects = self.client.list_objects(self.bucket, prefix=prefix, recursive=True)
            return sorted(o.object_name for o in objects if o.object_name is not None)

        return await asyncio.to_thread(_call, _list)

    async def check(self) -> None:
        try:
            exists = await asyncio.to_thread(self.client.bucket_exists, self.bucket)
        except Exception as exc:  # any transport failure means "not ready"
            raise StorageUnavailable(str(exc)) from exc
        if not exists:
            raise StorageUnavailable(f"bucket {self.bucket} does not exist")

    async def close(self) -> None:
        self.client._http.clear()
