"""A KPPS device confirms, corrects or disputes its own TPS's page with an Ed25519-signed request.

The device signs the RFC 8785 JSON of what it asserts, including the page revision it saw.
Accepting bumps the revision, so a replayed request finds a newer revision and gets 409:
the revision doubles as the nonce.
"""

from __future__ import annotations

import rfc8785
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.acceptance import RevisionConflict, lock_event_head
from shared.db.tables import Device, Dispute, TallyTps
from shared.errors import Forbidden, Unauthorized
from shared.events import record_event
from shared.signing import verify

REVIEW_DOMAIN = "sirekap/review/v1"


def review_bytes(
    *,
    device_id: str,
    tps: str,
    contest: str,
    page: int,
    submission_id: str,
    revision: int,
    values: dict[str, int],
    reason: str | None,
) -> bytes:
    return rfc8785.dumps(
        {
            "domain": REVIEW_DOMAIN,
            "device": device_id,
            "tps": tps,
            "contest": contest,
            "page": page,
            "submission": submission_id,
            "revision": revision,
            "values": values,
            "reason": reason,
        }
    )


async def check_device(
    session: AsyncSession, device_id: str, tps_code: str, message: bytes, signature: str
) -> Device:
    device = await session.get(Device, device_id)
    if device is None or device.revoked_at is not None:
        raise Unauthorized("unknown or revoked device", "Perangkat tidak dikenal atau dicabut.")
    if not verify(device.public_key, message, signature):
        raise Unauthorized("bad device signature", "Tanda tangan perangkat tidak valid.")
    if device.tps_code != tps_code:
        raise Forbidden(
            f"device is enrolled for {device.tps_code}, not {tps_code}",
            "Perangkat ini terdaftar untuk TPS lain.",
        )
    return device


DISPUTE_DOMAIN = "sirekap/dispute/v1"


def dispute_bytes(
    *,
    device_id: str,
    tps: str,
    contest: str,
    page: int,
    submission_id: str,
    revision: int,
    fields: list[str],
    reason: str,
) -> bytes:
    return rfc8785.dumps(
        {
            "domain": DISPUTE_DOMAIN,
            "device": device_id,
            "tps": tps,
            "contest": contest,
            "page": page,
            "submission": submission_id,
            "revision": revision,
            "fields": fields,
            "reason": reason,
        }
    )


async def record_dispute(
    session: AsyncSession,
    *,
    device_id: str,
    tps_code: str,
    contest: str,
    page: int,
    submission_id: str,
    revision: int,
    fields: list[str],
    reason: str,
) -> int:
    """A KPPS disputes the page as it stands at `revision`; it goes back to the review queue.

    Returns the dispute's audit event id. Takes the page's locks like an acceptance, so a
    dispute and an acceptance of one page are ordered, and the revision check is exact."""
    await lock_event_head(session, tps_code, contest)
    row = await session.get(TallyTps, (tps_code, contest), with_for_update=True)
    entry = (row.pages if row else {}).get(str(page))
    current = int(entry["revision"]) if entry else 0
    if revision != current:
        raise RevisionConflict(
            f"page is at revision {current}, not {revision}", extra={"revision": current}
        )
    existing = (
        await session.execute(
            select(Dispute.event_id).where(
                Dispute.tps_code == tps_code,
                Dispute.contest == contest,
                Dispute.page == page,
                Dispute.revision == revision,
                Dispute.device_id == device_id,
            )
        )
    ).scalar_one_or_none()
    if existing is not None:  # the same dispute again (a retry): nothing new to record
        return existing
    event = await record_event(
        session,
        kind="dispute",
        tps_code=tps_code,
        contest=contest,
        payload={
            "submission": submission_id,
            "page": page,
            "revision": revision,
            "disputes": entry["event_id"] if entry else None,
            "fields": sorted(fields),
            "reason": reason,
            "device": device_id,
        },
    )
    session.add(
        Dispute(
            tps_code=tps_code,
            contest=contest,
            page=page,
            revision=revision,
            submission_id=submission_id,
            device_id=device_id,
            fields=sorted(fields),
            reason=reason,
            event_id=event.id,
        )
    )
    return event.id
