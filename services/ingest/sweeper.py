"""Housekeeping: abandoned resumable uploads and photo objects that no row refers to.

An object without a row is what a failed hand-off leaves (the object is written before the
transaction that records it). It is removed only once it is older than any upload could still
be in flight, so a photo whose transaction is about to commit is never swept from under it.

Every photo is still listed (a fan-out folder at a time, looked up in batches): that suits the
embedded setup and one kabupaten; at national scale the object store's own lifecycle rules, or
a table of pending writes, take this job (see docs/ingest.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select

from shared.db.base import utcnow
from shared.db.engine import Database
from shared.db.tables import Submission, UploadSession
from shared.storage import ObjectStore

ORPHAN_GRACE = timedelta(hours=1)  # far above the slowest hand-off (seconds)
# `photo_key`'s fan-out folders, listed one at a time, and photos looked up in the database a
# batch per query (under SQLite's bound-parameter limit) instead of one query per photo.
PHOTO_FOLDERS = tuple(f"photos/{i:02x}/" for i in range(256))
LOOKUP_BATCH = 500


@dataclass(frozen=True)
class SweepReport:
    expired_uploads: int
    orphan_photos: int


async def sweep(
    db: Database, store: ObjectStore, *, grace: timedelta = ORPHAN_GRACE
) -> SweepReport:
    now = utcnow()
    async with db.reading() as session:
        expired = (
            (
                await session.execute(
                    select(UploadSession).where(
                        UploadSession.expires_at < now, UploadSession.submission_id.is_(None)
                    )
                )
            )
            .scalars()
            .all()
        )
    for upload in expired:
        for key in upload.chunk_keys:
            await store.delete(key)
    if expired:
        async with db.transaction() as session:
            await session.execute(
                delete(UploadSession).where(UploadSession.id.in_([u.id for u in expired]))
            )
    orphans = 0
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
                if sha in referenced:
                    continue
                modified = await store.modified_at(key)
                if modified is not None and now - modified > grace:
                    await store.delete(key)
                    orphans += 1
    return SweepReport(expired_uploads=len(expired), orphan_photos=orphans)
