"""Object storage for photos: `open_store(settings)` picks the backend."""

from __future__ import annotations

from shared.settings import Settings
from shared.storage.base import (
    UPLOAD_CHUNKS,
    ObjectMissing,
    ObjectStore,
    StorageError,
    StorageUnavailable,
    photo_key,
    upload_chunk_key,
    upload_of_chunk,
)
from shared.storage.local import LocalObjectStore
from shared.storage.s3 import S3ObjectStore


async def open_store(settings: Settings) -> ObjectStore:
    if settings.storage == "s3":
        store = S3ObjectStore(
            endpoint=settings.s3_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            bucket=settings.s3_bucket,
            secure=settings.s3_secure,
            region=settings.s3_region,
        )
        await store.ensure_bucket()
        return store
    return LocalObjectStore(settings.resolved_storage_path)


__all__ = [
    "UPLOAD_CHUNKS",
    "LocalObjectStore",
    "ObjectMissing",
    "ObjectStore",
    "S3ObjectStore",
    "StorageError",
    "StorageUnavailable",
    "open_store",
    "photo_key",
    "upload_chunk_key",
    "upload_of_chunk",
]
