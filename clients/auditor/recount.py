"""The hook for recounting the published totals from the log.

The recount is a plug-in: the auditor feeds it every entry in log order, then asks it for
findings. `clients.auditor.recount_log.LogRecount` is the one `sirekap audit verify` uses.
"""

from __future__ import annotations

from typing import Any, Protocol

from clients.auditor.client import LogClient
from clients.auditor.findings import Report


class Recount(Protocol):
    def observe(self, index: int, entry: dict[str, Any]) -> None:
        """See one parsed log entry, in index order."""

    async def check(self, client: LogClient, report: Report) -> None:
        """Compare the recount with the published totals; `report.add(...)` each mismatch
        with the region (`region:<code>`), TPS (`tps:<code>`) or dapil whose numbers differ."""
