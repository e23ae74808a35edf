"""S3-protocol storage through the `minio` SDK (MinIO in production, moto's server in tests).

The SDK is synchronous; every call runs in a thread. The SDK's default urllib3 pool holds 10
connections, fewer than the concurrent uploads of one ingest replica, so it is sized here.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import urllib3
from minio import Minio
from minio.credentials.credentials import Credentials
from minio.error import InvalidResponseError, S3Error, ServerError

from shared.storage.base import ObjectMissing, StorageUnavailable

POOL_CONNECTIONS = 64
# Written twice when the store opens, the second time only if absent: a 412 then says the
# server honours conditional writes (`If-None-Match: *`: AWS S3 since 2024-08, MinIO, moto).
CONDITIONAL_PROBE_KEY = ".sirekap/conditional-write-probe"
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


_KNOWN_SHA256 = "X-Sirekap-Known-Sha256"  # taken out again before the request is signed


class _Minio(Minio):
    """The SDK, told the payload's SHA-256 when the caller knows it already (a photo's key is
    its SHA-256, checked against the body as it streamed in): over plain HTTP the SDK would
    hash every photo once more to sign the request. The server still checks the hash against
    the bytes it receives."""

    def _build_headers(
        self,
        host: str,
        headers: dict[str, Any] | None = None,
        body: bytes | None = None,
        creds: Credentials | None = None,
    ) -> tuple[dict[str, Any], datetime]:
        known = (headers or {}).pop(_KNOWN_SHA256, None)
        if known is None or body is None or creds is None or self._base_url.is_https:
            return super()._build_headers(host, headers, body, creds)
        built, date = super()._build_headers(host, headers, None, creds)
        built["Content-Length"] = str(len(body))
        built["x-amz-content-sha256"] = known
        return built, date


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
        self.client = _Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=http,
        )
        self.bucket = bucket
        # Whether `put_new` can learn from the server that an object already existed; until
        # `ensure_bucket` has probed it, `put_new` cannot tell and says so (False).
        self.conditional_writes = False

    async def ensure_bucket(self) -> None:
        def _ensure() -> None:
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket)
            self.conditional_writes = self._probe_conditional_writes()

        await asyncio.to_thread(_call, _ensure)

    def _put_if_absent(
        self,
        key: str,
        data: bytes | bytearray | memoryview,
        ctype: str,
        sha256: str | None = None,
    ) -> None:
        # The SDK's public `put_object` turns extra headers into user metadata, so the single
        # PUT is sent through its internal call (present since minio 7.0).
        headers: dict[str, str | list[str] | tuple[str]] = {
            "Content-Type": ctype,
            "If-None-Match": "*",
        }
        if sha256 is not None:
            headers[_KNOWN_SHA256] = sha256
        self.client._put_object(
            self.bucket,
            key,
            data,  # type: ignore[arg-type]  # any buffer: sent as is
            headers=headers,
        )

    def _probe_conditional_writes(self) -> bool:
        if not callable(getattr(self.client, "_put_object", None)):
            return False
        self.client.put_object(self.bucket, CONDITIONAL_PROBE_KEY, io.BytesIO(b"1"), 1)
        try:
            self._put_if_absent(CONDITIONAL_PROBE_KEY, b"1", "application/octet-stream")
        except S3Error as exc:
            return exc.code == "PreconditionFailed"
        return False  # the header was ignored: the existing probe was overwritten

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

    async def put_new(
        self,
        key: str,
        data: bytes | bytearray | memoryview,
        content_type: str,
        *,
        sha256: str | None = None,
    ) -> bool:
        """One conditional PUT when the server honours `If-None-Match: *` (a new photo: no
        extra request); if an object was there, it is written again as by `put`."""
        if self.conditional_writes:

            def _put_new() -> bool:
                try:
                    self._put_if_absent(key, data, content_type, sha256)
                except S3Error as exc:
                    if exc.code != "PreconditionFailed":
                        raise
                    return False
                return True

            if await asyncio.to_thread(_call, _put_new):
                return True
        await self.put(key, data, content_type)
        return False

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
