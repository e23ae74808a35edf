"""What a KPPS device signs, and how the server checks it.

The device signs the RFC 8785 canonical JSON of its upload claim with its Ed25519 key. The same
bytes are rebuilt by the server from the request and verified against the enrolled key, so any
changed field (another TPS, page or photo) breaks the signature. A domain tag keeps a signature
made for one purpose from being replayed for another.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.canonical import canonical_json

UPLOAD_DOMAIN = "sirekap/upload/v1"
ENROL_DOMAIN = "sirekap/enrol/v1"


@dataclass(frozen=True, slots=True)
class UploadClaim:
    """The fields a device vouches for when it uploads one photo."""

    device_id: str
    tps: str
    contest: str
    page: int
    sha256: str  # lowercase hex of the photo bytes
    captured_at: str  # RFC 3339, as the device wrote it

    def signed_bytes(self) -> bytes:
        return canonical_json(
            {
                "domain": UPLOAD_DOMAIN,
                "device": self.device_id,
                "tps": self.tps,
                "contest": self.contest,
                "page": self.page,
                "sha256": self.sha256,
                "captured_at": self.captured_at,
            }
        )


def enrolment_bytes(tps: str, code: str, public_key: bytes) -> bytes:
    """What a device signs to prove it holds the key it enrols."""
    return canonical_json(
        {
            "domain": ENROL_DOMAIN,
            "tps": tps,
            "code": code,
            "public_key": base64.b64encode(public_key).decode(),
        }
    )


def b64decode_strict(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not valid base64") from exc


def verify(public_key: bytes, message: bytes, signature_b64: str) -> bool:
    try:
        signature = b64decode_strict(signature_b64)
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def sign(private_key: Ed25519PrivateKey, message: bytes) -> str:
    return base64.b64encode(private_key.sign(message)).decode()


def key_fingerprint(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()[:16]
