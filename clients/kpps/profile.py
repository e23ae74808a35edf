"""The device's identity on the phone: its Ed25519 key, device id, TPS and server.

Kept in one JSON file readable only by its owner. Losing it means enrolling again with a new
code; it never leaves the device.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def default_profile_path() -> Path:
    env = os.environ.get("SIREKAP_KPPS_PROFILE")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    return base / "sirekap" / "kpps.json"


@dataclass
class Profile:
    server: str
    tps: str
    device_id: str
    private_key: str  # base64 of the 32-byte Ed25519 seed

    def key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(base64.b64decode(self.private_key))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(asdict(self), f, indent=2)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> Profile:
        return cls(**json.loads(path.read_text()))


def new_key() -> tuple[Ed25519PrivateKey, str, bytes]:
    """A fresh key, its seed as base64, and its raw public key."""
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes_raw()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return key, base64.b64encode(seed).decode(), public
