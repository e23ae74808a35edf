"""Signed checkpoints and the cosignatures witnesses add to them.

The log never signs two checkpoints that contradict each other: before signing it recomputes
the root from the stored nodes and proves the new tree consistent with the last checkpoint it
signed. A signed fork is the one failure a transparency log cannot take back, so a failed check
stops signing rather than "repairing" anything.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from shared.audit import store
from shared.audit.checkpoint import Checkpoint
from shared.audit.cosignature import CosignatureVerifier, cosignature_timestamp
from shared.audit.merkle import ProofError, verify_consistency
from shared.audit.note import Ed25519Signer, NoteError, parse_signature_line, sign_note, split_note
from shared.db.tables.log import LogCheckpoint
from shared.errors import Forbidden, NotFound, SirekapError, Unprocessable


class LogIntegrityError(SirekapError):
    """The stored tree contradicts the last signed checkpoint; signing is refused."""

    status_code = 500
    detail_id_default = "Log audit tidak konsisten; penandatanganan dihentikan."


async def publish_checkpoint(
    session: AsyncSession, *, origin: str, signer: Ed25519Signer
) -> LogCheckpoint:
    """Sign the current tree head unless it is already the latest checkpoint."""
    head = await store.tree_head(session, lock=True)
    last = await store.latest_checkpoint(session)
    if last is not None:
        if head.size < last.size:
            raise LogIntegrityError(f"tree size {head.size} < signed size {last.size}")
        if head.size == last.size:
            if head.root != last.root:
                raise LogIntegrityError(f"two roots for tree size {head.size}")
            return last
    if await store.root_at(session, head.size) != head.root:
        raise LogIntegrityError("the tree head does not match the stored nodes")
    if last is not None and last.size > 0:
        proof = await store.consistency_proof(session, last.size, head.size)
        try:
            verify_consistency(last.size, head.size, proof, last.root, head.root)
        except ProofError as exc:
            raise LogIntegrityError(f"size {head.size} does not extend size {last.size}") from exc
    note = sign_note(Checkpoint(origin, head.size, head.root).format(), [signer])
    await store.add_checkpoint(session, head.size, head.root, note)
    checkpoint = await store.checkpoint_at(session, head.size)
    assert checkpoint is not None
    return checkpoint


async def served_checkpoint(
    session: AsyncSession, size: int | None = None, cosigned_by: Sequence[str] = ()
) -> str:
    """The signed note of a checkpoint with every cosignature on it: the one of `size`, else
    the newest cosigned by all of `cosigned_by`, else the newest.

    Witnesses lag the log by a polling interval, so the newest checkpoint usually has no
    cosignatures yet; a client that requires some asks for the newest one that has them."""
    if size is not None:
        cp = await store.checkpoint_at(session, size)
    elif cosigned_by:
        cp = await store.latest_checkpoint_cosigned_by(session, cosigned_by)
    else:
        cp = await store.latest_checkpoint(session)
    if cp is None:
        raise NotFound("no such checkpoint has been signed yet", "Checkpoint belum ada.")
    return cp.note + "".join(await store.cosignature_lines(session, cp.size))


async def accept_cosignature(
    session: AsyncSession, *, size: int, line: str, witnesses: Sequence[CosignatureVerifier]
) -> None:
    """Store a witness's cosignature line on the checkpoint of `size` after verifying it."""
    try:
        sig = parse_signature_line(line.rstrip("\n"))
    except NoteError as exc:
        raise Unprocessable(f"malformed cosignature line: {exc}") from exc
    verifier = next((w for w in witnesses if (w.name, w.key_id) == (sig.name, sig.key_id)), None)
    if verifier is None:
        raise Forbidden(f"{sig.name} is not a witness this log knows", "Saksi tidak dikenal.")
    cp = await store.checkpoint_at(session, size)
    if cp is None:
        raise NotFound(f"no checkpoint of size {size}", "Checkpoint tidak ditemukan.")
    text, _ = split_note(cp.note)
    if not verifier.verify(text.encode(), sig.signature):
        raise Unprocessable("the cosignature does not verify", "Tanda tangan saksi tidak sah.")
    await store.save_cosignature(
        session,
        size=size,
        key_name=sig.name,
        key_id=sig.key_id.hex(),
        timestamp=cosignature_timestamp(sig),
        line=sig.line(),
    )
