"""Both object-store backends honour the same contract: the local folder and S3 over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.storage import LocalObjectStore, ObjectMissing, ObjectStore, S3ObjectStore, photo_key


@pytest.fixture(params=["local", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ObjectStore]:
    if request.param == "local":
        yield LocalObjectStore(tmp_path / "objects")
        return
    endpoint = request.getfixturevalue("s3_endpoint")
    s3 = S3ObjectStore(
        endpoint=endpoint, access_key="test", secret_key="test", bucket=f"b{uuid.uuid4().hex[:12]}"
    )
    await s3.ensure_bucket()
    yield s3
    await s3.close()


async def test_put_get_size_delete(store: ObjectStore) -> None:
    key = photo_key("ab" * 32)
    payload = bytearray(b"\xff\xd8" + bytes(range(256)) * 100)
    await store.put(key, memoryview(payload), "image/jpeg")
    assert await store.get(key) == bytes(payload)
    assert await store.size(key) == len(payload)
    assert await store.list("photos/") == [key]
    await store.delete(key)
    assert await store.size(key) is None
    with pytest.raises(ObjectMissing):
        await store.get(key)
    await store.delete(key)  # deleting twice is not an error


async def test_list_is_sorted_by_key(store: ObjectStore) -> None:
    for offset in (300, 0, 20):
        await store.put(f"uploads/u1/{offset:012d}", b"x", "application/octet-stream")
    await store.put("uploads/u2/000000000000", b"y", "application/octet-stream")
    assert await store.list("uploads/u1/") == [
        "uploads/u1/000000000000",
        "uploads/u1/000000000020",
        "uploads/u1/000000000300",
    ]


async def test_check_passes_when_reachable(store: ObjectStore) -> None:
    await store.check()


def test_local_store_refuses_keys_that_escape(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    with pytest.raises(ValueError, match="escapes"):
        store._path("../../etc/passwd")
