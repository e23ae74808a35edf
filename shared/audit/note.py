"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 signatures (type 0x01).

A note is UTF-8 text ending in a newline, a blank line, then one line per signature:
`— <key name> <base64(4-byte key ID || signature)>`. Verifiers are looked up by (name, key ID);
signatures from unknown keys are ignored, but a known key whose signature fails rejects the
whole note, as the spec requires.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

ALG_ED25519 = 0x01
SIG_PREFIX = "— "  # U+2014 EM DASH, then a space
# The spec lets verifiers cap the work an attacker can make them do; Go's note package uses 100.
MAX_SIGNATURES = 100


class NoteError(ValueError):
    """The note is not valid."""


class MalformedNoteError(NoteError):
    """The note or a key is not in the signed-note format."""


class InvalidSignatureError(NoteError):
    """A known key's signature on the note does not verify."""


class UnverifiedNoteError(NoteError):
    """No signature on the note is from a key we know."""


class Verifier(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def verify(self, message: bytes, signature: bytes) -> bool: ...


class Signer(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


def is_valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def key_id(name: str, alg: int, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || alg || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public_key).digest()[:4]


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def parse_vkey(vkey: str) -> tuple[str, bytes, int, bytes]:
    """Split `<name>+<hex key ID>+<base64(alg || key)>` into (name, key ID, alg, key); the
    key ID is checked against the key so a typo cannot pass for a different key."""
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3 or not is_valid_name(parts[0]) or len(parts[1]) != 8:
        raise MalformedNoteError(f"malformed verifier key {vkey!r}")
    name, hex_id, b64 = parts
    try:
        kid = bytes.fromhex(hex_id)
        raw = base64.b64decode(b64, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise MalformedNoteError(f"malformed verifier key {vkey!r}") from exc
    if len(raw) < 2 or key_id(name, raw[0], raw[1:]) != kid:
        raise MalformedNoteError(f"verifier key {vkey!r}: key ID does not match the key")
    return name, kid, raw[0], raw[1:]


def format_vkey(name: str, alg: int, public_key: bytes) -> str:
    kid = key_id(name, alg, public_key).hex()
    return f"{name}+{kid}+{base64.b64encode(bytes([alg]) + public_key).decode()}"


@dataclass(frozen=True)
class Ed25519Verifier:
    name: str
    key_id: bytes
    public_key: Ed25519PublicKey = field(repr=False)

    @classmethod
    def from_vkey(cls, vkey: str) -> Ed25519Verifier:
        name, kid, alg, raw = parse_vkey(vkey)
        if alg != ALG_ED25519 or len(raw) != 32:
            raise MalformedNoteError(f"verifier key {vkey!r} is not an Ed25519 note key")
        return cls(name, kid, Ed25519PublicKey.from_public_bytes(raw))

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def vkey(self) -> str:
        return format_vkey(self.name, ALG_ED25519, raw_public_key(self.public_key))


@dataclass(frozen=True)
class Ed25519Signer:
    name: str
    private_key: Ed25519PrivateKey = field(repr=False)

    @classmethod
    def generate(cls, name: str) -> Ed25519Signer:
        if not is_valid_name(name):
            raise MalformedNoteError(f"invalid key name {name!r}")
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_skey(cls, skey: str) -> Ed25519Signer:
        """Parse `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || 32-byte seed)>`."""
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or not is_valid_name(parts[2]):
            raise MalformedNoteError("malformed private key")
        try:
            raw = base64.b64decode(parts[4], validate=True)
            kid = bytes.fromhex(parts[3])
        except (ValueError, binascii.Error) as exc:
            raise MalformedNoteError("malformed private key") from exc
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise MalformedNoteError("private key is not an Ed25519 note key")
        signer = cls(parts[2], Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if signer.key_id != kid:
            raise MalformedNoteError("private key: key ID does not match the key")
        return signer

    @property
    def public_key(self) -> bytes:
        return raw_public_key(self.private_key.public_key())

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, ALG_ED25519, self.public_key)

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    def skey(self) -> str:
        seed = self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        b64 = base64.b64encode(bytes([ALG_ED25519]) + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{b64}"

    def vkey(self) -> str:
        return format_vkey(self.name, ALG_ED25519, self.public_key)

    def verifier(self) -> Ed25519Verifier:
        return Ed25519Verifier(self.name, self.key_id, self.private_key.public_key())


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        b64 = base64.b64encode(self.key_id + self.signature).decode()
        return f"{SIG_PREFIX}{self.name} {b64}\n"


@dataclass(frozen=True)
class Note:
    text: str
    verified: tuple[NoteSignature, ...]
    unverified: tuple[NoteSignature, ...]


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise MalformedNoteError("note text must end with a newline")
    if any(c < " " and c != "\n" for c in text):
        raise MalformedNoteError("note text holds a control character")


def sign_note(text: str, signers: Iterable[Signer]) -> str:
    """Return the note: `text`, a blank line, one signature line per signer."""
    _check_text(text)
    message = text.encode()
    lines = [NoteSignature(s.name, s.key_id, s.sign(message)).line() for s in signers]
    if not lines:
        raise ValueError("a note needs at least one signature")
    return text + "\n" + "".join(lines)


def parse_signature_line(line: str) -> NoteSignature:
    """Parse one `— name base64` line (without its newline)."""
    if not line.startswith(SIG_PREFIX):
        raise MalformedNoteError("signature line does not start with '— '")
    name, sep, b64 = line[len(SIG_PREFIX) :].partition(" ")
    try:
        raw = base64.b64decode(b64, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise MalformedNoteError("signature is not base64") from exc
    if not sep or not is_valid_name(name) or len(raw) < 5:
        raise MalformedNoteError("malformed signature line")
    return NoteSignature(name, raw[:4], raw[4:])


def split_note(note: bytes | str) -> tuple[str, list[NoteSignature]]:
    """Split a note into its text and its signature lines, without verifying anything."""
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedNoteError("note is not UTF-8") from exc
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("note has no signature block")
    text, block = note[: split + 1], note[split + 2 :]
    _check_text(text)
    if not block.endswith("\n"):
        raise MalformedNoteError("signature block must end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(f"more than {MAX_SIGNATURES} signatures")
    return text, [parse_signature_line(line) for line in lines]


def open_note(note: bytes | str, verifiers: Sequence[Verifier]) -> Note:
    """Verify a note. Raises MalformedNoteError, InvalidSignatureError (a known key's
    signature fails) or UnverifiedNoteError (no known key signed it)."""
    text, signatures = split_note(note)
    known = {(v.name, v.key_id): v for v in verifiers}
    message = text.encode()
    verified: list[NoteSignature] = []
    unverified: list[NoteSignature] = []
    seen: set[tuple[str, bytes]] = set()
    for sig in signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            unverified.append(sig)
            continue
        if (sig.name, sig.key_id) in seen:
            continue  # one verdict per key, as in Go's note package
        seen.add((sig.name, sig.key_id))
        if not verifier.verify(message, sig.signature):
            raise InvalidSignatureError(f"signature by {sig.name} does not verify")
        verified.append(sig)
    if not verified:
        raise UnverifiedNoteError("no signature from a known key")
    return Note(text, tuple(verified), tuple(unverified))
