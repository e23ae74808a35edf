"""Cacheable JSON: a strong ETag over the body, a short max-age, 304 on If-None-Match.

Totals move while counting is on, so caches may reuse an answer for only a few seconds; the
ETag lets a dashboard that polls every few seconds get an empty 304 when nothing changed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import Request, Response

# Fields that say when the answer was made, not what it says: left out of the ETag, so a
# poll that finds the same numbers gets a 304.
VOLATILE = frozenset({"generated_at", "generated_at_local", "ts"})
MAX_AGE_S = 5  # a dashboard polls every ~10 s; 5 s keeps a CDN useful and the numbers fresh


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def cached_json(
    request: Request, data: Any, *, max_age: int = MAX_AGE_S, public: bool = True
) -> Response:
    body = dumps(data)
    if isinstance(data, dict) and VOLATILE & data.keys():
        etag = etag_of(dumps({k: v for k, v in data.items() if k not in VOLATILE}))
    else:
        etag = etag_of(body)
    headers = {
        "ETag": etag,
        "Cache-Control": f"{'public' if public else 'private'}, max-age={max_age}",
    }
    if not public:
        headers["Vary"] = "Authorization"
    match = request.headers.get("if-none-match", "")
    if etag in [t.strip() for t in match.split(",")] or match.strip() == "*":
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
