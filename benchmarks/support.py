"""What every benchmark ends with: one line of JSON. (The scratch database, moto's S3 server
and free ports some of them need are the `standins` package's.)"""

from __future__ import annotations

import json
from typing import Any


def print_result(result: dict[str, Any]) -> None:
    """The last line of every benchmark: one JSON object."""
    print(json.dumps(result, sort_keys=True))
