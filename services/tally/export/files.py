"""The bulk export, written to a file at most once a minute per format and contest, and shared
by every download in that minute.

`GET /api/v1/export/results.*` is public and is what civic tools poll; each response says
`Cache-Control: max-age=60`. Streamed from the database, every download was a full keyset scan
of `tally_tps` (every TPS of every contest) and its encoding, however many clients asked in the
same minute. Now the first request of a window writes the export to a file in this process's
folder and every request until it is `max_age_s` old is served that file: one scan a minute per
format and contest. A request that says `Cache-Control: no-cache` (RFC 9111: no stored copy
without checking) gets one written for it; the auditor's recount asks so, since it compares the
export with the log as it is now and a minute-old copy would show pages missing that are not.
A download holds an open file; the file replaced by a newer one is unlinked at once (an open
file stays readable until its reader closes it).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from services.tally.export.stream import Format, export_lines
from shared.db.engine import Database

MAX_AGE_S = 60.0  # the endpoint's Cache-Control
READ_CHUNK = 1 << 20

Key = tuple[Format, str | None]  # format, contest (None: every contest)


@dataclass(frozen=True)
class _Written:
    path: Path
    at: float


class ExportFiles:
    def __init__(
        self,
        db: Database,
        *,
        max_age_s: float = MAX_AGE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.max_age_s = max_age_s
        self._clock = clock
        self.folder = Path(tempfile.mkdtemp(prefix="sirekap-exports-"))
        self._written: dict[Key, _Written] = {}
        self._locks: defaultdict[Key, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def open(self, fmt: Format, contest: str | None, *, fresh: bool = False) -> BinaryIO:
        """The export, at most `max_age_s` old (`fresh`: written now), opened for reading (the
        caller closes it)."""
        key = (fmt, contest)
        async with self._locks[key]:  # one writer per key; the others wait and share its file
            written = self._written.get(key)
            if fresh or written is None or self._clock() - written.at >= self.max_age_s:
                new = await self._write(fmt, contest)
                self._written[key] = new
                if written is not None:
                    written.path.unlink(missing_ok=True)
                written = new
            return written.path.open("rb")  # under the lock: not unlinked before it is open

    async def _write(self, fmt: Format, contest: str | None) -> _Written:
        path = self.folder / f"{fmt}-{contest or 'all'}-{uuid.uuid4().hex}"
        try:
            with path.open("w", encoding="utf-8") as out:
                async for text in export_lines(self.db, fmt, contest):
                    await asyncio.to_thread(out.write, text)
        except BaseException:
            path.unlink(missing_ok=True)  # a failed export leaves nothing behind
            raise
        return _Written(path, self._clock())

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


async def read_chunks(file: BinaryIO) -> AsyncIterator[bytes]:
    """The file's bytes, a chunk at a time off the event loop; closes it when done or dropped."""
    try:
        while chunk := await asyncio.to_thread(file.read, READ_CHUNK):
            yield chunk
    finally:
        file.close()
