"""What the audit found, and whose fault each finding is."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Finding:
    culprit: str  # "log", "witness:<name>", "device:<id>", "tps:<code>", "tally", "photo-store"
    check: str  # short machine name, e.g. "root-mismatch"
    detail: str
    index: int | None = None  # the log entry concerned, when there is one


@dataclass
class Report:
    url: str
    origin: str = ""
    size: int = 0
    root_b64: str = ""
    previous_size: int | None = None
    entries_checked: int = 0
    photo_signatures_checked: int = 0
    photos_fetched: int = 0
    # The recount (clients/auditor/recount_log.py): published region totals and TPS compared.
    totals_compared: int = 0
    tps_compared: int = 0
    witnesses_verified: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    # Findings of one kind beyond this many are counted, not listed: a broken log could
    # otherwise produce a report of millions of lines.
    max_per_check: int = 100
    suppressed: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def ok(self) -> bool:
        return not self.findings and not self.suppressed

    def add(self, culprit: str, check: str, detail: str, index: int | None = None) -> None:
        if sum(1 for f in self.findings if f.check == check) >= self.max_per_check:
            self.suppressed[check] += 1
            return
        self.findings.append(Finding(culprit, check, detail, index))

    def by_culprit(self) -> dict[str, list[Finding]]:
        grouped: dict[str, list[Finding]] = defaultdict(list)
        for f in self.findings:
            grouped[f.culprit].append(f)
        return dict(grouped)

    def summary(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "url": self.url,
            "origin": self.origin,
            "size": self.size,
            "root": self.root_b64,
            "previous_size": self.previous_size,
            "entries_checked": self.entries_checked,
            "photo_signatures_checked": self.photo_signatures_checked,
            "photos_fetched": self.photos_fetched,
            "totals_compared": self.totals_compared,
            "tps_compared": self.tps_compared,
            "witnesses_verified": self.witnesses_verified,
            "culprits": sorted(self.by_culprit()),
            "findings": [asdict(f) for f in self.findings],
            "suppressed": dict(self.suppressed),
        }

    def human(self) -> str:
        lines = [
            f"log      {self.origin} at {self.url}",
            f"checked  {self.entries_checked:,} of {self.size:,} entries, root {self.root_b64}",
        ]
        if self.previous_size is not None:
            lines.append(f"history  extends the size {self.previous_size:,} seen last time")
        lines.append(f"witness  {', '.join(self.witnesses_verified) or '(none required)'}")
        lines.append(
            f"photos   {self.photo_signatures_checked:,} device signatures checked, "
            f"{self.photos_fetched:,} photos fetched and hashed"
        )
        if self.totals_compared:
            lines.append(
                f"recount  {self.totals_compared:,} region totals and {self.tps_compared:,} "
                "TPS recounted from the log and compared"
            )
        if self.ok:
            lines.append("RESULT   OK: everything checked holds")
            return "\n".join(lines)
        lines.append("RESULT   FAILED")
        for culprit, found in sorted(self.by_culprit().items()):
            lines.append(f"  {culprit}:")
            for f in found:
                where = f" (entry {f.index})" if f.index is not None else ""
                lines.append(f"    - {f.check}{where}: {f.detail}")
        for check, count in sorted(self.suppressed.items()):
            lines.append(f"  … and {count:,} more {check}")
        return "\n".join(lines)
