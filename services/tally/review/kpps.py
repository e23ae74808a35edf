"""A KPPS device confirms or corrects its own TPS's page with an Ed25519-signed request.

The device signs the RFC 8785 JSON of what it asserts, including the page revision it saw.
Accepting bumps the revision, so a replayed request finds a newer revision and gets 409:
the revision doubles as the nonce.
"""

from __future__ import annotations

import rfc8785
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.tables import Device
from shared.errors import Forbidden, Unauthorized
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
