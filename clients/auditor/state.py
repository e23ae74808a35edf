"""What the auditor remembers between runs: the last tree it verified, to catch a rewrite."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class AuditState:
    origin: str
    size: int
    root: bytes


def load(path: Path) -> AuditState | None:
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return AuditState(data["origin"], int(data["size"]), base64.b64decode(data["root"]))


def save(path: Path, state: AuditState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(
        json.dumps(
            {
                "origin": state.origin,
                "size": state.size,
                "root": base64.b64encode(state.root).decode(),
            }
        )
    )
    os.replace(tmp, path)
