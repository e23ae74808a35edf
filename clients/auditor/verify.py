"""The whole audit: checkpoint signatures, every entry against the root, history, photos."""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from clients.auditor import state as audit_state
from clients.auditor.checks import EntryChecks
from clients.auditor.client import LogClient, LogFormatError
from clients.auditor.findings import Report
from clients.auditor.recount import Recount
from shared.audit.checkpoint import Checkpoint
from shared.audit.cosignature import CosignatureVerifier
from shared.audit.merkle import EntryHasher, ProofError, verify_consistency
from shared.audit.note import (
    Ed25519Verifier,
    InvalidSignatureError,
    NoteError,
    UnverifiedNoteError,
    open_note,
)


@dataclass
class AuditOptions:
    log_key: Ed25519Verifier
    witness_keys: Sequence[CosignatureVerifier] = ()
    state_path: Path | None = None
    photos: int = 0
    # Where a photo's bytes are served, relative to the service URL.
    photo_url: str = "/photos/{sha256}"
    recount: Recount | None = None
    seed: int | None = None


async def run_audit(client: LogClient, url: str, options: AuditOptions) -> Report:
    report = Report(url)
    try:
        checkpoint = await _checkpoint(client, options, report)
        if checkpoint is None:
            return report
        await _entries(client, options, report, checkpoint)
    except (httpx.HTTPError, LogFormatError) as exc:
        report.add("log", "unavailable", f"the log did not answer as documented: {exc}")
        return report
    if report.ok and options.state_path is not None:
        # Only a fully verified tree becomes the reference for the next run.
        audit_state.save(
            options.state_path,
            audit_state.AuditState(checkpoint.origin, checkpoint.size, checkpoint.root),
        )
    return report


async def _checkpoint(
    client: LogClient, options: AuditOptions, report: Report
) -> Checkpoint | None:
    note_text = await client.checkpoint([w.name for w in options.witness_keys])
    try:
        note = open_note(note_text, [options.log_key])
        checkpoint = Checkpoint.parse(note.text)
    except NoteError as exc:
        report.add("log", "bad-checkpoint", f"checkpoint does not verify with the log key: {exc}")
        return None
    report.origin, report.size = checkpoint.origin, checkpoint.size
    report.root_b64 = base64.b64encode(checkpoint.root).decode()
    for witness in options.witness_keys:
        try:
            open_note(note_text, [witness])
            report.witnesses_verified.append(witness.name)
        except UnverifiedNoteError:
            report.add(
                f"witness:{witness.name}", "not-cosigned", "no cosignature on this checkpoint"
            )
        except InvalidSignatureError:
            # The log checks cosignatures when it accepts them, so serving a bad one is its fault.
            report.add(
                "log", "bad-cosignature", f"served a cosignature of {witness.name} that fails"
            )
    return checkpoint


async def _entries(
    client: LogClient, options: AuditOptions, report: Report, checkpoint: Checkpoint
) -> None:
    previous = audit_state.load(options.state_path) if options.state_path else None
    if previous is not None:
        report.previous_size = previous.size
        if previous.origin != checkpoint.origin:
            report.add("log", "origin-changed", f"was {previous.origin}, now {checkpoint.origin}")
            previous = None
        elif checkpoint.size < previous.size:
            report.add("log", "log-shrank", f"size {previous.size} → {checkpoint.size}")
            previous = None

    hasher = EntryHasher()
    checks = EntryChecks(report, options.photos, random.Random(options.seed))
    async for start, page in client.entries(0, checkpoint.size):
        cut = previous.size - start if previous and 0 < previous.size - start < len(page) else 0
        if cut:
            hasher.update(page[:cut])
            _check_previous_root(report, hasher, previous)
            hasher.update(page[cut:])
        else:
            hasher.update(page)
            if previous and hasher.size == previous.size:
                _check_previous_root(report, hasher, previous)
        for offset, body in enumerate(page):
            entry = checks.check(start + offset, body)
            if entry is not None and options.recount is not None:
                options.recount.observe(start + offset, entry)
        report.entries_checked += len(page)
    if hasher.root() != checkpoint.root:
        report.add("log", "root-mismatch", "the entries served do not hash to the signed root")
    if previous is not None and 0 < previous.size < checkpoint.size:
        proof = await client.consistency_proof(previous.size, checkpoint.size)
        try:
            verify_consistency(
                previous.size, checkpoint.size, proof, previous.root, checkpoint.root
            )
        except ProofError as exc:
            report.add("log", "bad-consistency-proof", str(exc))
    await _photos(client, options, report, checks)
    if options.recount is not None:
        await options.recount.check(client, report)


def _check_previous_root(
    report: Report, hasher: EntryHasher, previous: audit_state.AuditState | None
) -> None:
    if previous is not None and hasher.root() != previous.root:
        report.add(
            "log",
            "history-rewritten",
            f"the first {previous.size:,} entries no longer hash to the root seen last time",
        )


async def _photos(
    client: LogClient, options: AuditOptions, report: Report, checks: EntryChecks
) -> None:
    for ref in sorted(checks.photos, key=lambda r: r.index):
        try:
            data = await client.fetch(options.photo_url.format(sha256=ref.sha256))
        except httpx.HTTPError as exc:
            report.add("photo-store", "photo-missing", f"{ref.sha256}: {exc}", ref.index)
            continue
        report.photos_fetched += 1
        if hashlib.sha256(data).hexdigest() != ref.sha256 or len(data) != ref.size:
            report.add("photo-store", "photo-mismatch", f"{ref.sha256}: other bytes", ref.index)
