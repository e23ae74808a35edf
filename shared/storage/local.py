"""The embedded default: objects as files in a folder, written atomically and durably."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

from shared.storage.base import ObjectMissing, StorageUnavailable


class LocalObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._tmp = self.root / ".tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:  # keys come from code, but never trust a path
            raise ValueError(f"key escapes the store: {key!r}")
        return path

    def _put(self, key: str, data: bytes | bytearray | memoryview) -> bool:
        """Write atomically; True when no object was there just before (see `put_new`)."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._tmp / uuid.uuid4().hex
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())  # acknowledged means on disk: a power cut loses nothing
            created = not path.exists()
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)  # a write cut short by a full disk leaves no debris
        return created

    async def put(self, key: str, data: bytes | bytearray | memoryview, content_type: str) -> None:
        await self.put_new(key, data, content_type)

    async def put_new(
        self,
        key: str,
        data: bytes | bytearray | memoryview,
        content_type: str,
        *,
        sha256: str | None = None,
    ) -> bool:
        try:
            return await asyncio.to_thread(self._put, key, data)
        except OSError as exc:  # disk full (ENOSPC), read-only, quota: an outage, not a bug
            raise StorageUnavailable(f"cannot write {key}: {exc}") from exc

    def _get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise ObjectMissing(key) from exc

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._get, key)

    async def size(self, key: str) -> int | None:
        def _size() -> int | None:
            try:
                return self._path(key).stat().st_size
            except FileNotFoundError:
                return None

        return await asyncio.to_thread(_size)

    async def modified_at(self, key: str) -> datetime | None:
        def _mtime() -> datetime | None:
            try:
                return datetime.fromtimestamp(self._path(key).stat().st_mtime, tz=UTC)
            except FileNotFoundError:
                return None

        return await asyncio.to_thread(_mtime)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def list(self, prefix: str) -> list[str]:
        def _list() -> list[str]:
            base = self._path(prefix.rstrip("/")) if prefix.strip("/") else self.root
            start = base if base.is_dir() else base.parent
            if not start.exists():
                return []
            keys = (
                p.relative_to(self.root).as_posix()
                for p in start.rglob("*")
                if p.is_file() and self._tmp not in p.parents
            )
            return sorted(k for k in keys if k.startswith(prefix))

        return await asyncio.to_thread(_list)

    async def check(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise StorageUnavailable(f"{self.root} is not writable")

    async def close(self) -> None:
        return None
