"""Checks made on each entry as it streams past: canonical form, the per-TPS chain, and the
device signature of every photo entry (against the key the log says the device enrolled)."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from typing import Any

from clients.auditor.findings import Report
from shared.canonical import CanonicalJSONError, canonical_json
from shared.signing import UploadClaim, verify

NO_CONTEST = "-"  # as shared.events: the chain key of TPS events that have no contest


@dataclass(frozen=True)
class PhotoRef:
    index: int
    sha256: str
    size: int


@dataclass
class EntryChecks:
    report: Report
    photo_sample: int = 0
    rng: random.Random = field(default_factory=random.Random)
    heads: dict[tuple[str, str], str] = field(default_factory=dict)
    device_keys: dict[str, str] = field(default_factory=dict)
    device_tps: dict[str, str] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    photos: list[PhotoRef] = field(default_factory=list)  # a uniform sample (reservoir)
    _photos_seen: int = 0

    def check(self, index: int, body: bytes) -> dict[str, Any] | None:
        try:
            entry = json.loads(body)
        except ValueError:
            self.report.add("log", "not-json", "entry is not JSON", index)
            return None
        if not isinstance(entry, dict):
            self.report.add("log", "not-json", "entry is not a JSON object", index)
            return None
        try:
            canonical = canonical_json(entry) == body
        except CanonicalJSONError:
            canonical = False
        if not canonical:
            self.report.add("log", "not-canonical", "entry bytes are not RFC 8785 JSON", index)
        self._check_chain(index, entry, body)
        kind = entry.get("kind")
        if kind == "device_enrolled":
            self.device_keys[str(entry.get("device"))] = str(entry.get("device_key"))
            self.device_tps[str(entry.get("device"))] = str(entry.get("tps"))
            self.revoked.discard(str(entry.get("device")))
        elif kind == "device_revoked":
            self.revoked.add(str(entry.get("device")))
        elif kind == "photo":
            self._check_photo(index, entry)
        return entry

    def _check_chain(self, index: int, entry: dict[str, Any], body: bytes) -> None:
        tps = entry.get("tps")
        if tps is None:
            return
        contest = entry.get("contest") or NO_CONTEST
        key = (str(tps), str(contest))
        expected = self.heads.get(key)
        if entry.get("prev") != expected:
            self.report.add(
                f"tps:{tps}",
                "broken-chain",
                f"{contest}: cites {entry.get('prev')}, but the previous entry is {expected}",
                index,
            )
        self.heads[key] = hashlib.sha256(body).hexdigest()

    def _check_photo(self, index: int, entry: dict[str, Any]) -> None:
        try:
            device = str(entry["device"])
            key_hex = str(entry["device_key"])
            claim = UploadClaim(
                device_id=device,
                tps=str(entry["tps"]),
                contest=str(entry["contest"]),
                page=int(entry["page"]),
                sha256=str(entry["sha256"]),
                captured_at=str(entry["captured_at"]),
            )
            key = bytes.fromhex(key_hex)
            signature = str(entry["signature"])
            size = int(entry["size"])
        except (KeyError, ValueError, TypeError) as exc:
            self.report.add("log", "malformed-photo-entry", f"missing or bad field: {exc}", index)
            return
        culprit = f"device:{device}"
        enrolled = self.device_keys.get(device)
        if enrolled is None:
            self.report.add(
                culprit, "unknown-device", "no enrolment of this device in the log", index
            )
        elif enrolled != key_hex:
            self.report.add(culprit, "key-mismatch", "signed with a key it did not enrol", index)
        home = self.device_tps.get(device)
        if home is not None and home != claim.tps:
            # A KPPS phone is enrolled for one TPS: its signature on another's form is no
            # evidence of that TPS's count, however valid.
            self.report.add(
                culprit, "device-wrong-tps", f"enrolled for TPS {home}, signed {claim.tps}", index
            )
        if device in self.revoked:
            self.report.add(culprit, "revoked-device", "photo from a revoked device", index)
        if not verify(key, claim.signed_bytes(), signature):
            self.report.add(culprit, "bad-device-signature", "device signature fails", index)
        self.report.photo_signatures_checked += 1
        self._sample(PhotoRef(index, claim.sha256, size))

    def _sample(self, ref: PhotoRef) -> None:
        self._photos_seen += 1
        if len(self.photos) < self.photo_sample:
            self.photos.append(ref)
            return
        j = self.rng.randrange(self._photos_seen)
        if j < self.photo_sample:
            self.photos[j] = ref
