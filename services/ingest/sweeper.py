"""Housekeeping: abandoned resumable uploads, stray chunks, and photos no row refers to.

Three things can be left in the store with nothing to show for them, and each is removed only
once it is older than GRACE, so nothing a request is still working on is swept from under it:

- **an expired tus upload**: its session expired (a week after creation). An unfinished one
  goes with its chunks; a finished one's row, kept for its receipt, goes too, so the table holds
  about a week of uploads. A PATCH admitted a moment before the expiry may still be writing for
  up to the body's 20-minute limit, hence the grace after the expiry too. (An index on
  `expires_at`, migration 0008, keeps this a range scan.)
- **a stray chunk**: under `uploads/`, but not in the chunk list of any unfinished upload. A
  PATCH whose database update failed leaves one; so does a replica stopped between a finished
  upload's commit and the deletion of its chunks. `uploads/` holds only what is in flight, so
  listing it is cheap at any scale.
- **an orphan photo**: an object without a submission row, left by a failed hand-off (the
  object is written before the transaction that records it). Finding one means listing every
  photo (a fan-out folder at a time, looked up in batches): fine for the embedded setup and a
  kabupaten, hours for a national store, so it is a pass of its own (`orphan_photos=True`),
  run daily rather than every few minutes (docs/ingest.md).

`sirekap ingest sweep` runs a pass; `--every S` repeats it. Two sweepers at once are safe: each
deletion is of something already unreferenced, and deleting twice is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from shared.db.base import utcnow
from shared.db.engine import Database
from shared.db.tables import Submission, UploadSession
from shared.storage import UPLOAD_CHUNKS, ObjectStore, upload_of_chunk

log = logging.getLogger("sirekap.ingest.sweeper")

GRACE = timedelta(hours=1)  # far above the slowest hand-off (seconds) and a body's 20 minutes
# `photo_key`'s fan-out folders, listed one at a time, and rows looked up in the database a
# batch per query (under SQLite's bound-parameter limit) instead of one query per object.
PHOTO_FOLDERS = tuple(f"photos/{i:02x}/" for i in range(256))
LOOKUP_BATCH = 500


@dataclass(frozen=True)
class SweepReport:
    abandoned_uploads: int  # unfinished, with their chunks
    finished_uploads: int  # rows kept a week for their receipts
    stray_chunks: int
    orphan_photos: int | None  # None: not looked for in this pass


async def sweep(
    db: Database, store: ObjectStore, *, grace: timedelta = GRACE, orphan_photos: bool = True
) -> SweepReport:
    """One pass; `orphan_photos=False` skips the listing of every photo."""
    abandoned, finished = await sweep_expired_uploads(db, store, grace)
    return SweepReport(
        abandoned_uploads=abandoned,
        finished_uploads=finished,
        stray_chunks=await sweep_stray_chunks(db, store, grace),
        orphan_photos=await sweep_orphan_photos(db, store, grace) if orphan_photos else None,
    )


async def sweep_expired_uploads(
    db: Database, store: ObjectStore, grace: timedelta
) -> tuple[int, int]:
    """Delete upload sessions more than `grace` past their expiry; returns (abandoned,
    finished). An unfinished one goes with its chunks. A finished one's row only served its
    receipt, which its phone had a week to fetch; a later retry of the same photo opens a new
    session and gets the original receipt (uploads are idempotent)."""
    abandoned = finished = 0
    while True:
        async with db.reading() as session:
            expired = (
                await session.execute(
                    select(UploadSession.id, UploadSession.chunk_keys, UploadSession.submission_id)
                    .where(UploadSession.expires_at < utcnow() - grace)
                    .order_by(UploadSession.expires_at)
                    .limit(LOOKUP_BATCH)
                )
            ).all()
        if not expired:
            return abandoned, finished
        for upload in expired:
            if upload.submission_id is None:
                for key in upload.chunk_keys:
                    await store.delete(key)
        async with db.transaction() as session:
            await session.execute(
                delete(UploadSession).where(UploadSession.id.in_([u.id for u in expired]))
            )
        finished += sum(1 for u in expired if u.submission_id is not None)
        abandoned += sum(1 for u in expired if u.submission_id is None)


async def sweep_stray_chunks(db: Database, store: ObjectStore, grace: timedelta) -> int:
    """Delete chunks older than `grace` that no unfinished upload lists."""
    now = utcnow()
    by_upload: dict[str, list[str]] = {}
    for key in await store.list(UPLOAD_CHUNKS):
        upload_id = upload_of_chunk(key)
        if upload_id is not None:
            by_upload.setdefault(upload_id, []).append(key)
    ids = list(by_upload)
    removed = 0
    for start in range(0, len(ids), LOOKUP_BATCH):
        batch = ids[start : start + LOOKUP_BATCH]
        async with db.reading() as session:
            rows = await session.execute(
                select(UploadSession.chunk_keys).where(
                    UploadSession.id.in_(batch), UploadSession.submission_id.is_(None)
                )
            )
            listed = {key for (keys,) in rows for key in keys}
        for upload_id in batch:
            for key in by_upload[upload_id]:
                if key not in listed and await _older_than(store, key, now - grace):
                    await store.delete(key)
                    removed += 1
    return removed


async def sweep_orphan_photos(db: Database, store: ObjectStore, grace: timedelta) -> int:
    """Delete photos older than `grace` that no submission refers to."""
    now = utcnow()
    removed = 0
    for prefix in PHOTO_FOLDERS:  # one folder at a time: memory stays ~1/256 of the photos
        keys = await store.list(prefix)
        for start in range(0, len(keys), LOOKUP_BATCH):
            batch = {key.rsplit("/", 1)[-1]: key for key in keys[start : start + LOOKUP_BATCH]}
            async with db.reading() as session:
                referenced = set(
                    (
                        await session.execute(
                            select(Submission.sha256).where(Submission.sha256.in_(list(batch)))
                        )
                    ).scalars()
                )
            for sha, key in batch.items():
                if sha not in referenced and await _older_than(store, key, now - grace):
                    await store.delete(key)
                    removed += 1
    return removed


async def _older_than(store: ObjectStore, key: str, moment: datetime) -> bool:
    modified = await store.modified_at(key)
    return modified is not None and modified < moment


async def sweep_every(
    db: Database,
    store: ObjectStore,
    *,
    every: timedelta,
    photos_every: timedelta,
    stop: asyncio.Event,
) -> None:
    """A pass every `every` until `stop` is set; orphan photos on the first pass and then at
    most every `photos_every`. A pass that fails (the database or store is down) is logged
    and the next one tries again."""
    photos_looked_at: float | None = None
    while not stop.is_set():
        photos = (
            photos_looked_at is None
            or time.monotonic() - photos_looked_at >= photos_every.total_seconds()
        )
        try:
            report = await sweep(db, store, orphan_photos=photos)
        except Exception:
            log.exception("sweep failed; the next pass tries again")
        else:
            if photos:
                photos_looked_at = time.monotonic()
            log.info("swept", extra=asdict(report))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every.total_seconds())
