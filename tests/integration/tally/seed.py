"""Test data for the tally: a device per TPS, submissions, readings, acceptances."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from services.ocr.worker import STATUS_OF
from shared.acceptance import Source, accept_page
from shared.db.base import utcnow
from shared.db.engine import Database
from shared.db.tables import Device, Reading, Submission
from shared.db.tables.readings import ReadingOutcome
from shared.events import record_event

DEVICE_KEY = bytes(range(32))


async def ensure_device(db: Database, tps_code: str, public_key: bytes | None = None) -> str:
    device_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"device:{tps_code}"))
    async with db.transaction() as session:
        if await session.get(Device, device_id) is None:
            key = public_key or hashlib.sha256(device_id.encode()).digest()
            session.add(Device(id=device_id, tps_code=tps_code, public_key=key, label="test"))
    return device_id


async def submit(
    db: Database, tps_code: str, contest: str, page: int, *, photo: bytes | None = None
) -> tuple[str, str]:
    """A new submission (the next version of the page); returns (id, sha256)."""
    device_id = await ensure_device(db, tps_code)
    sid = str(uuid.uuid4())
    sha = hashlib.sha256(photo or sid.encode()).hexdigest()
    async with db.transaction() as session:
        version = (
            await session.execute(
                select(func.coalesce(func.max(Submission.version), 0)).where(
                    Submission.tps_code == tps_code,
                    Submission.contest == contest,
                    Submission.page == page,
                )
            )
        ).scalar_one() + 1
        event = await record_event(
            session, kind="photo", tps_code=tps_code, contest=contest, payload={"sha256": sha}
        )
        session.add(
            Submission(
                id=sid,
                tps_code=tps_code,
                contest=contest,
                page=page,
                version=version,
                sha256=sha,
                size=100,
                content_type="image/jpeg",
                width=2000,
                height=1400,
                device_id=device_id,
                signature="x",
                captured_at=utcnow(),
                status="read",
                event_id=event.id,
            )
        )
    return sid, sha


async def read(
    db: Database,
    submission_id: str,
    values: Mapping[str, int | None],
    *,
    outcome: str = "needs_review",
    failing: list[dict[str, Any]] | None = None,
    crops: dict[str, list[str | None]] | None = None,
) -> int:
    async with db.transaction() as session:
        sub = await session.get(Submission, submission_id)
        assert sub is not None
        event = await record_event(
            session,
            kind="reading",
            tps_code=sub.tps_code,
            contest=sub.contest,
            payload={"submission": submission_id},
        )
        # The OCR worker's shape: per box its symbol, probability and (for boxes a reviewer
        # should see) the object-store key of its crop.
        fields = {
            k: {
                "value": v,
                "confidence": 0.5,
                "candidates": [],
                "ok": k not in (crops or {}),
                "boxes": [
                    {
                        "symbol": s,
                        "prob": 0.4 if k in (crops or {}) else 0.99,
                        "crop_key": (crops or {}).get(k, [None] * 3)[i],
                    }
                    for i, s in enumerate(f"{v or 0:>3}".replace(" ", "X"))
                ],
            }
            for k, v in values.items()
        }
        reading = Reading(
            submission_id=submission_id,
            tps_code=sub.tps_code,
            contest=sub.contest,
            page=sub.page,
            values=dict(values),
            fields=fields,
            failing=failing or [],
            outcome=outcome,
            confidence=0.5,
            model_sha256="0" * 64,
            reader_version="test",
            event_id=event.id,
        )
        session.add(reading)
        sub.status = STATUS_OF[ReadingOutcome(outcome)].value  # as the worker does, at once
        await session.flush()
        return reading.id


async def accept(
    db: Database,
    submission_id: str,
    values: dict[str, int],
    *,
    source: Source = "auto",
    reason: str | None = None,
    actor: str = "ocr",
) -> int:
    async with db.transaction() as session:
        sub = await session.get(Submission, submission_id)
        assert sub is not None
        return await accept_page(
            session,
            submission_id=submission_id,
            tps_code=sub.tps_code,
            contest=sub.contest,
            page=sub.page,
            values=values,
            source=source,
            reading_id=None,
            actor=actor,
            reason=reason,
        )


def ppwp_votes(a: int, b: int, c: int, invalid: int = 0) -> dict[str, int]:
    """Page 2 of the PPWP form: consistent votes."""
    sah = a + b + c
    return {
        "100025": a,
        "100026": b,
        "100027": c,
        "suara_sah": sah,
        "suara_tidak_sah": invalid,
        "suara_total": sah + invalid,
    }


def admin_page(men: int, women: int, voted_men: int, voted_women: int) -> dict[str, int]:
    """Page 1 (administrasi) of any contest: consistent voter and ballot rows."""
    values: dict[str, int] = {}
    rows = {
        "pemilih_dpt": (men, women),
        "pemilih_dptb": (0, 0),
        "pemilih_dpk": (0, 0),
        "pengguna_dpt": (voted_men, voted_women),
        "pengguna_dptb": (0, 0),
        "pengguna_non_dpt": (0, 0),
        "pengguna_total": (voted_men, voted_women),
    }
    for prefix, (l_, p_) in rows.items():
        values.update({f"{prefix}_l": l_, f"{prefix}_p": p_, f"{prefix}_j": l_ + p_})
    used = voted_men + voted_women
    received = men + women + (men + women + 49) // 50
    values.update(
        {
            "surat_suara_diterima": received,
            "surat_suara_dikembalikan": 0,
            "surat_suara_tidak_digunakan": received - used,
            "surat_suara_digunakan": used,
        }
    )
    return values
