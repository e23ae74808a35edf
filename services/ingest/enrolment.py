"""Device enrolment: an official issues a one-time code for a TPS; a KPPS phone redeems it.

The phone proves it holds the private key by signing the code with it, so a code read over
someone's shoulder cannot enrol a key its reader does not hold. Each code enrols one device for
exactly one TPS. Enrolments and revocations are audit events: an auditor can check that every
photo was signed by a key enrolled for its TPS at the time.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Official
from shared.db.base import utcnow
from shared.db.tables import Device, EnrolmentCode, Tps
from shared.errors import Conflict, Forbidden, NotFound, Unauthorized, Unprocessable
from shared.events import record_event
from shared.signing import b64decode_strict, enrolment_bytes, verify

# Crockford-style alphabet without 0/O and 1/I/L: officers read codes aloud and type them.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10  # 31^10 ≈ 8e14: unguessable within a code's lifetime


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def normalise_code(code: str) -> str:
    return code.strip().upper().replace("-", "").replace(" ", "")


def hash_code(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


async def issue_code(
    session: AsyncSession, *, tps_code: str, issued_by: str, ttl_s: int
) -> tuple[str, datetime]:
    if await session.get(Tps, tps_code) is None:
        raise NotFound(f"TPS {tps_code} does not exist", f"TPS {tps_code} tidak ada.")
    code = new_code()
    expires_at = utcnow() + timedelta(seconds=ttl_s)
    session.add(
        EnrolmentCode(
            code_hash=hash_code(code),
            tps_code=tps_code,
            issued_by=issued_by,
            expires_at=expires_at,
        )
    )
    await session.flush()
    return code, expires_at


async def enrol_device(
    session: AsyncSession,
    *,
    tps_code: str,
    code: str,
    public_key_b64: str,
    proof: str,
    label: str,
) -> Device:
    try:
        public_key = b64decode_strict(public_key_b64)
    except ValueError as exc:
        raise Unprocessable("public_key is not base64", "Kunci publik tidak valid.") from exc
    if len(public_key) != 32:
        raise Unprocessable("public_key must be 32 bytes (Ed25519)", "Kunci publik tidak valid.")
    enrolment = await session.get(EnrolmentCode, hash_code(code), with_for_update=True)
    if enrolment is None or enrolment.tps_code != tps_code:
        raise Unauthorized(
            "unknown enrolment code for this TPS",
            "Kode pendaftaran salah untuk TPS ini. Periksa kode dari PPS.",
        )
    if enrolment.used_at is not None:
        raise Conflict("this enrolment code has been used", "Kode pendaftaran sudah dipakai.")
    if enrolment.expires_at < utcnow():
        raise Unauthorized(
            "this enrolment code has expired", "Kode pendaftaran kedaluwarsa; minta kode baru."
        )
    if not verify(public_key, enrolment_bytes(tps_code, code, public_key), proof):
        raise Unauthorized(
            "the proof is not a signature of this code by this key",
            "Bukti kunci tidak sah.",
        )
    device = Device(
        id=str(uuid.uuid4()), tps_code=tps_code, public_key=public_key, label=label[:120]
    )
    session.add(device)
    enrolment.used_at = utcnow()
    enrolment.device_id = device.id
    await session.flush()
    await record_event(
        session,
        kind="device_enrolled",
        tps_code=tps_code,
        contest=None,
        payload={
            "device": device.id,
            "device_key": public_key.hex(),
            "issued_by": enrolment.issued_by,
        },
    )
    return device


async def revoke_device(
    session: AsyncSession, *, device_id: str, official: Official, reason: str
) -> Device:
    if official.role.value == "AUDITOR":  # auditors read everything and write nothing
        raise Forbidden("auditors cannot revoke devices", "Auditor tidak dapat mencabut perangkat.")
    device = await session.get(Device, device_id, with_for_update=True)
    if device is None:
        raise NotFound("no such device", "Perangkat tidak ditemukan.")
    official.require(device.tps_code)
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        device.revoked_by = official.username
        await record_event(
            session,
            kind="device_revoked",
            tps_code=device.tps_code,
            contest=None,
            payload={"device": device.id, "by": official.username, "reason": reason},
        )
    return device


def require_official_for_tps(official: Official, tps_code: str) -> None:
    if official.role.value == "AUDITOR":
        raise Forbidden("auditors cannot issue codes", "Auditor tidak dapat menerbitkan kode.")
    official.require(tps_code)


def public_key_b64(device: Device) -> str:
    return base64.b64encode(device.public_key).decode()
