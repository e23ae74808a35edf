"""Witness cosignatures (c2sp.org/tlog-cosignature, Ed25519 `cosignature/v1`).

The cosigner signs `cosignature/v1\ntime <unix seconds>\n` followed by the checkpoint body; the
signature on the note line is the 8-byte big-endian timestamp followed by the Ed25519
signature. The key ID uses signature type 0x04 rather than the note's 0x01, so a cosigner key
can never be mistaken for (or replayed as) a log's own note signature.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from shared.audit.note import (
    Ed25519Signer,
    MalformedNoteError,
    NoteSignature,
    format_vkey,
    key_id,
    parse_vkey,
    raw_public_key,
)

ALG_COSIGNATURE_V1 = 0x04
_MAX_TIMESTAMP = 2**63 - 1


def cosigned_message(checkpoint_text: str, timestamp: int) -> bytes:
    if not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise ValueError("cosignature timestamp out of range")
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_text}".encode()


@dataclass(frozen=True)
class CosignatureVerifier:
    """A note `Verifier` for one witness: `verify(checkpoint text, timestamp || signature)`."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey = field(repr=False)

    @classmethod
    def from_vkey(cls, vkey: str) -> CosignatureVerifier:
        name, kid, alg, raw = parse_vkey(vkey)
        if alg != ALG_COSIGNATURE_V1 or len(raw) != 32:
            raise MalformedNoteError(f"{vkey!r} is not a cosignature/v1 key")
        return cls(name, kid, Ed25519PublicKey.from_public_bytes(raw))

    def verify(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != 8 + 64:
            return False
        (timestamp,) = struct.unpack(">Q", signature[:8])
        if timestamp > _MAX_TIMESTAMP:
            return False
        signed = cosigned_message(message.decode(), timestamp)
        try:
            self.public_key.verify(signature[8:], signed)
        except InvalidSignature:
            return False
        return True

    def vkey(self) -> str:
        return format_vkey(self.name, ALG_COSIGNATURE_V1, raw_public_key(self.public_key))


@dataclass(frozen=True)
class CosignatureSigner:
    name: str
    private_key: Ed25519PrivateKey = field(repr=False)

    @classmethod
    def generate(cls, name: str) -> CosignatureSigner:
        return cls.from_note_signer(Ed25519Signer.generate(name))

    @classmethod
    def from_skey(cls, skey: str) -> CosignatureSigner:
        """Witness keys are stored in the note private-key form (type 0x01 seed); the same
        seed signs cosignatures under the 0x04 key ID."""
        return cls.from_note_signer(Ed25519Signer.from_skey(skey))

    @classmethod
    def from_note_signer(cls, signer: Ed25519Signer) -> CosignatureSigner:
        return cls(signer.name, signer.private_key)

    @property
    def public_key(self) -> bytes:
        return raw_public_key(self.private_key.public_key())

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, ALG_COSIGNATURE_V1, self.public_key)

    def cosign(self, checkpoint_text: str, timestamp: int) -> NoteSignature:
        signature = self.private_key.sign(cosigned_message(checkpoint_text, timestamp))
        return NoteSignature(self.name, self.key_id, struct.pack(">Q", timestamp) + signature)

    def skey(self) -> str:
        return Ed25519Signer(self.name, self.private_key).skey()

    def vkey(self) -> str:
        return format_vkey(self.name, ALG_COSIGNATURE_V1, self.public_key)

    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self.key_id, self.private_key.public_key())


def cosignature_timestamp(signature: NoteSignature) -> int:
    (timestamp,) = struct.unpack(">Q", signature.signature[:8])
    return int(timestamp)
