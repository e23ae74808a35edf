"""Officials' bearer tokens, shared by the ingest and tally services.

A token is `<base64url payload>.<base64url HMAC-SHA256>` over the payload with the deployment's
secret: stateless, so any replica of any service checks it without a database round trip.
The payload names the official, the role and the region the role covers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from enum import StrEnum

from shared.errors import Forbidden, Unauthorized


class Role(StrEnum):
    PPS = "PPS"  # desa
    PPK = "PPK"  # kecamatan
    KPU_KABKOTA = "KPU_KABKOTA"
    KPU_PROV = "KPU_PROV"
    KPU = "KPU"  # national
    AUDITOR = "AUDITOR"  # reads everything, writes nothing


# The region level (dots + 1, national = 0) a role is scoped to.
ROLE_LEVEL = {
    Role.PPS: 4,
    Role.PPK: 3,
    Role.KPU_KABKOTA: 2,
    Role.KPU_PROV: 1,
    Role.KPU: 0,
    Role.AUDITOR: 0,
}
TOKEN_TTL_S = 12 * 3600  # one shift


@dataclass(frozen=True, slots=True)
class Official:
    username: str
    role: Role
    region: str  # dotted region code; "00" for national roles

    def covers(self, code: str) -> bool:
        """Whether a region or TPS code (dotted or compact) lies inside this official's region."""
        if self.region == "00":
            return True
        mine = self.region.replace(".", "")
        return code.replace(".", "").startswith(mine)

    def require(self, code: str) -> None:
        if not self.covers(code):
            raise Forbidden(
                f"{self.role} {self.region} may not act on {code}",
                f"Wilayah {code} di luar kewenangan Anda ({self.role} {self.region}).",
            )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_token(secret: str, official: Official, ttl_s: int = TOKEN_TTL_S) -> str:
    payload = json.dumps(
        {
            "sub": official.username,
            "role": str(official.role),
            "region": official.region,
            "exp": int(time.time()) + ttl_s,
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    mac = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


def verify_token(secret: str, token: str, *, now: float | None = None) -> Official:
    try:
        payload_b64, mac_b64 = token.split(".")
        payload = _unb64(payload_b64)
        mac = _unb64(mac_b64)
    except ValueError as exc:
        raise Unauthorized("malformed token", "Token tidak valid.") from exc
    expected = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, expected):
        raise Unauthorized("token signature is invalid", "Token tidak valid.")
    try:
        claims = json.loads(payload)
        official = Official(claims["sub"], Role(claims["role"]), claims["region"])
        expires = float(claims["exp"])
    except (ValueError, KeyError, TypeError) as exc:
        raise Unauthorized("malformed token", "Token tidak valid.") from exc
    if (now if now is not None else time.time()) >= expires:
        raise Unauthorized("token has expired", "Token kedaluwarsa; silakan masuk lagi.")
    return official


def bearer(header: str | None) -> str:
    if not header or not header.startswith("Bearer "):
        raise Unauthorized("missing bearer token", "Silakan masuk terlebih dahulu.")
    return header.removeprefix("Bearer ").strip()
