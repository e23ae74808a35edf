"""One witnessing pass: fetch the log's checkpoint, check it, cosign it, post it back.

The witness refuses to cosign when the log's signature fails, the origin is not the log it
watches, the tree shrank, the same size came back with another root, or the consistency proof
from the last checkpoint it saw does not verify. Each of those is a log showing different
histories to different people, and the evidence (both signed checkpoints) is kept.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from services.witness.state import WitnessState, load_state, save_state
from shared.audit.checkpoint import Checkpoint
from shared.audit.cosignature import CosignatureSigner
from shared.audit.merkle import ProofError, verify_consistency
from shared.audit.note import Ed25519Verifier, NoteError, open_note


class WitnessRefusal(Exception):
    """The witness will not cosign this checkpoint."""


class ForkDetected(WitnessRefusal):
    """The log's new checkpoint contradicts one it signed before."""

    def __init__(self, message: str, previous_note: str, new_note: str) -> None:
        super().__init__(message)
        self.previous_note = previous_note
        self.new_note = new_note


@dataclass(frozen=True)
class WitnessResult:
    size: int
    previous_size: int | None


@dataclass
class Witness:
    client: httpx.AsyncClient  # base_url = the log's service URL
    signer: CosignatureSigner
    log_key: Ed25519Verifier
    state_path: Path
    origin: str | None = None  # defaults to the log key's name

    async def fetch_checkpoint(self) -> tuple[str, Checkpoint]:
        response = await self.client.get("/log/checkpoint")
        response.raise_for_status()
        note_text = response.text
        try:
            note = open_note(note_text, [self.log_key])
            checkpoint = Checkpoint.parse(note.text)
        except NoteError as exc:
            raise WitnessRefusal(f"checkpoint does not verify: {exc}") from exc
        if checkpoint.origin != (self.origin or self.log_key.name):
            raise WitnessRefusal(f"checkpoint is for {checkpoint.origin!r}, not this log")
        # Keep only the log's own signature line as evidence, not other witnesses' lines.
        own = next(s for s in note.verified if s.name == self.log_key.name)
        return note.text + "\n" + own.line(), checkpoint

    async def check_extends(
        self, previous: WitnessState, note: str, checkpoint: Checkpoint
    ) -> None:
        if checkpoint.size < previous.size:
            raise ForkDetected(
                f"tree shrank from {previous.size} to {checkpoint.size}", previous.note, note
            )
        if checkpoint.size == previous.size:
            if checkpoint.root != previous.root:
                raise ForkDetected(
                    f"two roots for tree size {checkpoint.size}", previous.note, note
                )
            return
        if previous.size == 0:
            return  # every tree extends the empty one
        response = await self.client.get(
            "/log/proof/consistency",
            params={"size1": previous.size, "size2": checkpoint.size},
        )
        response.raise_for_status()
        proof = [base64.b64decode(p) for p in response.json()["proof"]]
        try:
            verify_consistency(
                previous.size, checkpoint.size, proof, previous.root, checkpoint.root
            )
        except ProofError as exc:
            raise ForkDetected(
                f"size {checkpoint.size} does not extend size {previous.size}: {exc}",
                previous.note,
                note,
            ) from exc

    async def witness_once(self, *, now: int | None = None) -> WitnessResult:
        note, checkpoint = await self.fetch_checkpoint()
        previous = load_state(self.state_path)
        if previous is not None:
            if previous.origin != checkpoint.origin:
                raise WitnessRefusal("the state file belongs to another log")
            await self.check_extends(previous, note, checkpoint)
        # Remember before vouching (see state.py).
        if previous is None or checkpoint.size > previous.size:
            save_state(
                self.state_path,
                WitnessState(checkpoint.origin, checkpoint.size, checkpoint.root, note),
            )
        timestamp = int(time.time()) if now is None else now
        cosignature = self.signer.cosign(checkpoint.format(), timestamp)
        response = await self.client.post(
            "/log/cosignatures",
            json={"size": checkpoint.size, "cosignature": cosignature.line()},
        )
        response.raise_for_status()
        return WitnessResult(checkpoint.size, None if previous is None else previous.size)
