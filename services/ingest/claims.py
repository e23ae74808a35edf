"""Who is uploading what: parse an upload claim and check it against the enrolled device.

Refusals here happen before a byte of the photo is stored: unknown device or a bad signature is
401, a revoked device or a device enrolled for another TPS is 403, a claim that names no real
TPS, contest or page is 422.

The TPS needs no lookup of its own: a device is enrolled for exactly one TPS
(`devices.tps_code` is a foreign key to `tps.code`), and a claim for any other TPS is refused,
so a claim that passes names a TPS that exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from shared.contests import Contest, definition
from shared.db.base import utcnow
from shared.db.tables import Device
from shared.errors import Forbidden, Unauthorized, Unprocessable
from shared.settings import Settings
from shared.signing import UploadClaim, verify

TPS_RE = re.compile(r"^\d{13}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_PAGES = 99


@dataclass(frozen=True, slots=True)
class VerifiedClaim:
    claim: UploadClaim
    signature: str
    captured_at: datetime
    device: Device


def _invalid(field: str, why: str, why_id: str) -> Unprocessable:
    return Unprocessable(f"{field}: {why}", f"{field}: {why_id}", extra={"field": field})


def parse_claim(
    *,
    device_id: str | None,
    tps: str | None,
    contest: str | None,
    page: str | int | None,
    sha256: str | None,
    captured_at: str | None,
) -> UploadClaim:
    if not device_id:
        raise Unauthorized("missing device id", "Perangkat tidak dikenali.")
    if not tps or not TPS_RE.match(tps):
        raise _invalid("tps", "must be a 13-digit TPS code", "harus kode TPS 13 digit")
    if contest not in {c.value for c in Contest}:
        raise _invalid(
            "contest",
            f"must be one of {', '.join(c.value for c in Contest)}",
            "jenis pemilihan tidak dikenal",
        )
    try:
        page_no = int(str(page))
    except ValueError:
        page_no = 0
    if not 1 <= page_no <= MAX_PAGES:
        raise _invalid(
            "page", f"must be a whole number from 1 to {MAX_PAGES}", "nomor halaman salah"
        )
    if not sha256 or not SHA256_RE.match(sha256):
        raise _invalid("sha256", "must be 64 lowercase hex digits", "harus 64 digit heksadesimal")
    if not captured_at:
        raise _invalid("captured_at", "is required (RFC 3339)", "waktu pemotretan wajib diisi")
    return UploadClaim(
        device_id=device_id[:64],
        tps=tps,
        contest=contest,
        page=page_no,
        sha256=sha256,
        captured_at=captured_at[:40],
    )


def _parse_time(text: str, settings: Settings) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _invalid("captured_at", "is not an RFC 3339 time", "format waktu salah") from exc
    if moment.tzinfo is None:
        raise _invalid("captured_at", "needs a UTC offset", "waktu harus menyertakan zona waktu")
    if moment - utcnow() > timedelta(seconds=settings.capture_future_skew_s):
        raise _invalid(
            "captured_at",
            "is in the future; check the phone's clock",
            "waktu pemotretan di masa depan; periksa jam ponsel",
        )
    return moment


async def verify_claim(
    session: AsyncSession, claim: UploadClaim, signature: str | None, settings: Settings
) -> VerifiedClaim:
    return check_claim(claim, signature, await session.get(Device, claim.device_id), settings)


def check_claim(
    claim: UploadClaim, signature: str | None, device: Device | None, settings: Settings
) -> VerifiedClaim:
    """Check a claim against its device (None: not enrolled), as read by the caller."""
    if (
        device is None
        or not signature
        or not verify(device.public_key, claim.signed_bytes(), signature)
    ):
        raise Unauthorized(
            "unknown device or invalid signature",
            "Tanda tangan perangkat tidak sah atau perangkat belum terdaftar.",
        )
    if device.revoked_at is not None:
        raise Forbidden("this device has been revoked", "Perangkat ini sudah dicabut aksesnya.")
    if device.tps_code != claim.tps:
        raise Forbidden(
            f"this device is enrolled for TPS {device.tps_code}, not {claim.tps}",
            f"Perangkat ini terdaftar untuk TPS {device.tps_code}, bukan {claim.tps}.",
        )
    _check_page(claim)
    captured_at = _parse_time(claim.captured_at, settings)
    return VerifiedClaim(claim, signature, captured_at, device)


def _check_page(claim: UploadClaim) -> None:
    pages = definition(Contest(claim.contest), claim.tps).pages
    if claim.page > pages:
        raise _invalid(
            "page",
            f"{claim.contest} has {pages} page(s) at this TPS",
            f"formulir {claim.contest} hanya {pages} halaman",
        )
