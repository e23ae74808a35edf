"""Where the outside known-answer vectors live: `../shared/testvectors/` from the project root."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]
TESTVECTORS = PROJECT_ROOT / ".." / "shared" / "testvectors"
