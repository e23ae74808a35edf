"""Signed notes against the C2SP known answer, and against every one-byte change of it."""

from __future__ import annotations

import json

import pytest

from shared.audit.note import (
    Ed25519Signer,
    Ed25519Verifier,
    InvalidSignatureError,
    MalformedNoteError,
    NoteError,
    UnverifiedNoteError,
    open_note,
    parse_vkey,
    sign_note,
)
from tests.unit.audit.vectors import TESTVECTORS

VECTOR = json.loads((TESTVECTORS / "signed-note.json").read_text())
VERIFIER = Ed25519Verifier.from_vkey(VECTOR["vkey"])
WHOLE = VECTOR["whole_note"].encode()


def test_known_answer_verifies() -> None:
    assert VECTOR["whole_note"] == VECTOR["note_text"] + "\n" + VECTOR["signature_line"]
    note = open_note(WHOLE, [VERIFIER])
    assert note.text == VECTOR["note_text"]
    assert [s.name for s in note.verified] == ["example.com/foo"]
    assert VERIFIER.vkey() == VECTOR["vkey"]


@pytest.mark.parametrize("position", range(len(WHOLE)))
def test_any_changed_byte_is_refused(position: int) -> None:
    for flip in (0x01, 0x20, 0x80):
        changed = bytearray(WHOLE)
        changed[position] ^= flip
        with pytest.raises(NoteError):
            open_note(bytes(changed), [VERIFIER])


def test_unknown_keys_are_ignored_but_one_known_key_is_needed() -> None:
    other = Ed25519Signer.generate("other.example/log")
    both = sign_note(VECTOR["note_text"], [other]) + VECTOR["signature_line"]
    note = open_note(both, [VERIFIER])
    assert [s.name for s in note.unverified] == ["other.example/log"]
    with pytest.raises(UnverifiedNoteError):
        open_note(sign_note(VECTOR["note_text"], [other]), [VERIFIER])


def test_a_failing_known_key_rejects_even_beside_a_good_one() -> None:
    signer = Ed25519Signer.generate("log.example/a")
    witness = Ed25519Signer.generate("witness.example/b")
    good = sign_note("hello\n", [signer])
    forged = sign_note("other\n", [witness]).split("\n\n", 1)[1]
    open_note(good + forged, [signer.verifier()])  # b unknown: ignored
    with pytest.raises(InvalidSignatureError):
        open_note(good + forged, [signer.verifier(), witness.verifier()])


def test_keys_round_trip() -> None:
    signer = Ed25519Signer.generate("sirekap.example/log")
    again = Ed25519Signer.from_skey(signer.skey())
    assert again.vkey() == signer.vkey()
    assert signer.skey().startswith("PRIVATE+KEY+sirekap.example/log+")
    verifier = Ed25519Verifier.from_vkey(signer.vkey())
    open_note(sign_note("x\n", [again]), [verifier])


@pytest.mark.parametrize(
    "vkey",
    [
        "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # wrong key id
        "example.com/foo+530d903a",
        "exa mple+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903a+!!!",
    ],
)
def test_bad_vkeys_are_refused(vkey: str) -> None:
    with pytest.raises(MalformedNoteError):
        parse_vkey(vkey)


@pytest.mark.parametrize("text", ["no newline", "tab\there\n", "bell\x07\n"])
def test_bad_text_cannot_be_signed(text: str) -> None:
    with pytest.raises(MalformedNoteError):
        sign_note(text, [Ed25519Signer.generate("k")])
