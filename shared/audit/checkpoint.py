"""tlog-checkpoint bodies (c2sp.org/tlog-checkpoint): `<origin>\n<size>\n<base64 root>\n`,
optionally followed by extension lines. The body is what the log and witnesses sign."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from shared.audit.merkle import HASH_SIZE
from shared.audit.note import MalformedNoteError

# Decimal without leading zeros: "007" would make two texts for one checkpoint.
_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")


class MalformedCheckpointError(MalformedNoteError):
    """The text is not a tlog checkpoint."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def format(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode()]
        return "".join(f"{line}\n" for line in [*lines, *self.extensions])

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        if not text.endswith("\n"):
            raise MalformedCheckpointError("checkpoint must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedCheckpointError("checkpoint needs origin, size and root lines")
        origin, size, root_b64, *extensions = lines
        if not origin or not _SIZE.fullmatch(size):
            raise MalformedCheckpointError("bad origin or size line")
        try:
            root = base64.b64decode(root_b64, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise MalformedCheckpointError("root is not base64") from exc
        if len(root) != HASH_SIZE or any(not line for line in extensions):
            raise MalformedCheckpointError("bad root or empty extension line")
        if int(size) >= 2**63:
            raise MalformedCheckpointError("size does not fit in 63 bits")
        return cls(origin, int(size), root, tuple(extensions))
