"""The witness's memory: the last checkpoint it verified for the log, kept in a JSON file.

Written atomically (temporary file + rename) and *before* the cosignature leaves, so a crash
can never make the witness forget a checkpoint it vouched for.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WitnessState:
    origin: str
    size: int
    root: bytes
    note: str  # the log-signed checkpoint, kept as evidence should the log ever fork

    def to_json(self) -> str:
        return json.dumps(
            {
                "origin": self.origin,
                "size": self.size,
                "root": base64.b64encode(self.root).decode(),
                "note": self.note,
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> WitnessState:
        data = json.loads(text)
        return cls(data["origin"], int(data["size"]), base64.b64decode(data["root"]), data["note"])


def load_state(path: Path) -> WitnessState | None:
    return WitnessState.from_json(path.read_text()) if path.exists() else None


def save_state(path: Path, state: WitnessState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as f:
        f.write(state.to_json())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
