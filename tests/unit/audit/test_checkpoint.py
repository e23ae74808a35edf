from __future__ import annotations

import pytest

from shared.audit.checkpoint import Checkpoint, MalformedCheckpointError
from shared.audit.cosignature import (
    CosignatureSigner,
    CosignatureVerifier,
    cosignature_timestamp,
)
from shared.audit.note import (
    Ed25519Signer,
    InvalidSignatureError,
    MalformedNoteError,
    UnverifiedNoteError,
    key_id,
    open_note,
    sign_note,
)

ROOT = bytes(range(32))


def test_checkpoint_round_trip() -> None:
    cp = Checkpoint("sirekap.example/log", 20852163, ROOT, ("ext a",))
    text = cp.format()
    assert text.startswith("sirekap.example/log\n20852163\n")
    assert Checkpoint.parse(text) == cp


@pytest.mark.parametrize(
    "text",
    [
        "origin\n12\nAAEC\n",  # root not 32 bytes
        "origin\n012\n" + "A" * 43 + "=\n",  # leading zero
        "origin\n-1\n" + "A" * 43 + "=\n",
        "\n1\n" + "A" * 43 + "=\n",
        "origin\n1\n" + "A" * 43 + "=",  # no final newline
        "origin\n1\n" + "A" * 43 + "=\n\n",  # empty extension line
    ],
)
def test_malformed_checkpoints(text: str) -> None:
    with pytest.raises(MalformedCheckpointError):
        Checkpoint.parse(text)


def test_the_spec_example_cosignature_key_id_uses_type_4() -> None:
    signer = CosignatureSigner.generate("witness.example/w1")
    assert signer.key_id == key_id("witness.example/w1", 0x04, signer.public_key)
    assert signer.key_id != key_id("witness.example/w1", 0x01, signer.public_key)
    assert signer.vkey().split("+")[1] == signer.key_id.hex()


def test_cosigned_checkpoint_verifies_with_log_and_witness_keys() -> None:
    log = Ed25519Signer.generate("sirekap.example/log")
    witness = CosignatureSigner.generate("witness.example/w1")
    text = Checkpoint("sirekap.example/log", 5, ROOT).format()
    note = sign_note(text, [log]) + witness.cosign(text, 1_700_000_000).line()
    witness_verifier = CosignatureVerifier.from_vkey(witness.vkey())
    opened = open_note(note, [log.verifier(), witness_verifier])
    assert {s.name for s in opened.verified} == {log.name, witness.name}
    cosig = next(s for s in opened.verified if s.name == witness.name)
    assert cosignature_timestamp(cosig) == 1_700_000_000
    # The witness alone is enough to open it, and a changed timestamp breaks it.
    open_note(note, [witness_verifier])
    tampered = witness.cosign(text, 1_700_000_000)
    forged = type(tampered)(tampered.name, tampered.key_id, b"\x00" * 8 + tampered.signature[8:])
    with pytest.raises(InvalidSignatureError):
        open_note(sign_note(text, [log]) + forged.line(), [witness_verifier])


def test_a_cosignature_is_not_a_note_signature() -> None:
    """The same seed under 0x01 and 0x04 gives different key IDs: no cross-use."""
    seed = Ed25519Signer.generate("w")
    witness = CosignatureSigner.from_note_signer(seed)
    text = "o\n1\n" + "A" * 43 + "=\n"
    with pytest.raises(UnverifiedNoteError):
        open_note(sign_note(text, [seed]), [witness.verifier()])


def test_vkey_types_are_not_interchangeable() -> None:
    witness = CosignatureSigner.generate("w")
    with pytest.raises(MalformedNoteError):
        CosignatureVerifier.from_vkey(Ed25519Signer.generate("w").vkey())
    assert CosignatureSigner.from_skey(witness.skey()).vkey() == witness.vkey()
