"""Reads the log's HTTP API (see services/tally/log_api.py for the formats)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import httpx

PAGE = 10_000  # the server's maximum page of entries


class LogFormatError(Exception):
    """The server's answer is not in the documented format."""


@dataclass
class LogClient:
    http: httpx.AsyncClient  # base_url = the service URL

    async def checkpoint(self, cosigned_by: Sequence[str] = ()) -> str:
        """The newest checkpoint cosigned by all of `cosigned_by`; the newest of all when
        none is (the audit then reports the missing witnesses)."""
        if cosigned_by:
            r = await self.http.get("/log/checkpoint", params={"cosigned_by": list(cosigned_by)})
            if r.status_code != 404:
                r.raise_for_status()
                return r.text
        r = await self.http.get("/log/checkpoint")
        r.raise_for_status()
        return r.text

    async def entries(self, start: int, end: int) -> AsyncIterator[tuple[int, list[bytes]]]:
        """Yield (first index, entries) pages covering [start, end), each entry's exact bytes."""
        for page_start in range(start, end, PAGE):
            page_end = min(end, page_start + PAGE)
            r = await self.http.get("/log/entries", params={"start": page_start, "end": page_end})
            r.raise_for_status()
            lines = r.content.split(b"\n")
            if lines[-1] != b"" or len(lines) - 1 != page_end - page_start:
                raise LogFormatError(
                    f"entries {page_start}..{page_end}: got {len(lines) - 1} lines"
                )
            yield page_start, lines[:-1]

    async def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        r = await self.http.get("/log/proof/consistency", params={"size1": size1, "size2": size2})
        r.raise_for_status()
        return [base64.b64decode(p) for p in r.json()["proof"]]

    async def fetch(self, url: str) -> bytes:
        r = await self.http.get(url)
        r.raise_for_status()
        return r.content
