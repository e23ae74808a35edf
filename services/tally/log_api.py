"""The transparency log over HTTP: what witnesses and `sirekap audit verify` read.

Mount with `app.include_router(log_router)` after putting a `shared.audit.runtime.LogState` on
`app.state.log` in the lifespan (see `running_log`). Routes, all under `/log`:

- `GET  /log/checkpoint[?size=N | ?cosigned_by=<witness name>…]` the latest signed checkpoint
  (or that of size N, or the newest one cosigned by all the named witnesses) with every
  cosignature on it, as a `text/plain` signed note.
- `GET  /log/entries?start=A&end=B` entries A ≤ i < B (at most 10,000), `application/x-ndjson`:
  each line is the entry's exact bytes followed by 0x0A. Entries are RFC 8785 JSON, which never
  holds a raw newline, so the split is unambiguous; hash the line without its newline.
- `GET  /log/entries/{i}` one entry's exact bytes.
- `GET  /log/proof/inclusion?index=I[&size=N]` or `?hash=<hex SHA-256 of the entry>[&size=N]`.
- `GET  /log/proof/consistency?size1=M&size2=N`.
- `POST /log/cosignatures` `{"size": N, "cosignature": "— <name> <base64>\\n"}` from a witness.
- `GET  /log/tps/{tps_code}[?contest=C]` one TPS's entries, oldest first.
- `GET  /log/key` the log's verifier key. A convenience only: an auditor should get the key
  from somewhere the log operator does not control (the election body's gazette, a witness).

Proof sizes default to the latest signed checkpoint: a proof is only worth something against
a root someone signed. Hashes in JSON are standard base64, as in checkpoints.
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from shared.audit import store
from shared.audit.merkle import leaf_hash
from shared.audit.publisher import accept_cosignature, served_checkpoint
from shared.audit.runtime import LogState
from shared.errors import BadRequest, NotFound

MAX_ENTRIES_PER_REQUEST = 10_000
NOTE_MEDIA_TYPE = "text/plain; charset=utf-8"
ENTRIES_MEDIA_TYPE = "application/x-ndjson"

log_router = APIRouter(prefix="/log", tags=["audit log"])


async def get_log_state(request: Request) -> LogState:  # no thread hop
    state: LogState = request.app.state.log
    return state


LogDep = Annotated[LogState, Depends(get_log_state)]


class InclusionProof(BaseModel):
    index: int
    tree_size: int
    leaf_hash: str
    proof: list[str]


class ConsistencyProof(BaseModel):
    size1: int
    size2: int
    proof: list[str]


class CosignatureIn(BaseModel):
    size: int = Field(ge=0)
    cosignature: str = Field(max_length=1000)


class HistoryEntry(BaseModel):
    index: int
    kind: str
    contest: str | None
    entry_sha256: str
    entry: str  # the exact bytes (UTF-8 JSON): SHA-256 of its encoding is entry_sha256


class TpsHistory(BaseModel):
    tps_code: str
    entries: list[HistoryEntry]


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


async def _signed_size(session: AsyncSession, size: int | None) -> int:
    """`size` if it is within the integrated tree, else the latest signed checkpoint's size."""
    head = await store.tree_head(session)
    if size is None:
        cp = await store.latest_checkpoint(session)
        if cp is None:
            raise NotFound("no checkpoint has been signed yet", "Belum ada checkpoint.")
        return cp.size
    if not 0 < size <= head.size:
        raise BadRequest(f"size must be within 1..{head.size}")
    return size


@log_router.get("/checkpoint", response_class=Response)
async def get_checkpoint(
    log: LogDep,
    size: int | None = None,
    cosigned_by: Annotated[list[str] | None, Query(max_length=20)] = None,
) -> Response:
    async with log.db.reading() as session:
        note = await served_checkpoint(session, size, cosigned_by or ())
    return Response(note, media_type=NOTE_MEDIA_TYPE, headers={"Cache-Control": "no-cache"})


@log_router.get("/key", response_class=Response)
async def get_key(log: LogDep) -> Response:
    return Response(log.config.signer.vkey() + "\n", media_type=NOTE_MEDIA_TYPE)


@log_router.get("/entries", response_class=Response)
async def get_entries(
    log: LogDep,
    start: Annotated[int, Query(ge=0)],
    end: Annotated[int, Query(ge=0)],
) -> Response:
    if end <= start or end - start > MAX_ENTRIES_PER_REQUEST:
        raise BadRequest(f"need start < end ≤ start + {MAX_ENTRIES_PER_REQUEST}")
    async with log.db.reading() as session:
        rows = await store.entries(session, start, end)
    body = b"".join(row.body + b"\n" for row in rows)
    # Entries are immutable once indexed: a full page may be cached for ever.
    cache = "public, max-age=31536000, immutable" if len(rows) == end - start else "no-cache"
    return Response(
        body,
        media_type=ENTRIES_MEDIA_TYPE,
        headers={"X-Log-Start": str(start), "X-Log-Count": str(len(rows)), "Cache-Control": cache},
    )


@log_router.get("/entries/{index}", response_class=Response)
async def get_entry(log: LogDep, index: int) -> Response:
    async with log.db.reading() as session:
        rows = await store.entries(session, index, index + 1)
    if not rows:
        raise NotFound(f"no entry {index}", "Entri tidak ditemukan.")
    return Response(rows[0].body, media_type="application/json")


@log_router.get("/proof/inclusion")
async def get_inclusion_proof(
    log: LogDep,
    index: Annotated[int | None, Query(ge=0)] = None,
    entry_hash: Annotated[str | None, Query(alias="hash", pattern="^[0-9a-f]{64}$")] = None,
    size: Annotated[int | None, Query(ge=1)] = None,
) -> InclusionProof:
    if (index is None) == (entry_hash is None):
        raise BadRequest("give exactly one of index and hash")
    async with log.db.reading() as session:
        if entry_hash is not None:
            index = await store.index_of(session, entry_hash)
            if index is None:
                raise NotFound("no logged entry has that hash", "Entri tidak ditemukan.")
        assert index is not None
        tree_size = await _signed_size(session, size)
        if index >= tree_size:
            raise NotFound(f"entry {index} is not in the tree of size {tree_size} yet")
        entry = (await store.entries(session, index, index + 1))[0]
        proof = await store.inclusion_proof(session, index, tree_size)
    return InclusionProof(
        index=index,
        tree_size=tree_size,
        leaf_hash=_b64(leaf_hash(entry.body)),
        proof=[_b64(p) for p in proof],
    )


@log_router.get("/proof/consistency")
async def get_consistency_proof(
    log: LogDep,
    size1: Annotated[int, Query(ge=1)],
    size2: Annotated[int | None, Query(ge=1)] = None,
) -> ConsistencyProof:
    async with log.db.reading() as session:
        size2 = await _signed_size(session, size2)
        if size1 > size2:
            raise BadRequest("size1 must not exceed size2")
        proof = await store.consistency_proof(session, size1, size2)
    return ConsistencyProof(size1=size1, size2=size2, proof=[_b64(p) for p in proof])


@log_router.post("/cosignatures", status_code=204, response_class=Response)
async def post_cosignature(log: LogDep, body: CosignatureIn) -> Response:
    async with log.db.transaction() as session:
        await accept_cosignature(
            session, size=body.size, line=body.cosignature, witnesses=log.config.witnesses
        )
    return Response(status_code=204)


@log_router.get("/tps/{tps_code}")
async def get_tps_history(
    log: LogDep,
    tps_code: Annotated[str, Path(pattern="^[0-9]{13}$")],
    contest: str | None = None,
) -> TpsHistory:
    async with log.db.reading() as session:
        rows = await store.tps_history(session, tps_code, contest)
    return TpsHistory(
        tps_code=tps_code,
        entries=[
            HistoryEntry(
                index=r.index,
                kind=r.kind,
                contest=r.contest,
                entry_sha256=r.entry_sha256,
                entry=r.body.decode(),
            )
            for r in rows
        ],
    )
