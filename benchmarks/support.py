"""What every benchmark ends with: one line of JSON; and a migrated scratch database. (Free
ports, moto's S3 server and the databases themselves are the `standins` package's.)"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from shared.db.engine import Database, open_database
from shared.db.migrate import upgrade_async
from standins.postgres import drop_database, fresh_pg_database


@asynccontextmanager
async def scratch_database(name: str, *, keep: bool = False) -> AsyncIterator[Database]:
    """Database `name`, made anew and migrated; dropped afterwards unless `keep`."""
    url = await fresh_pg_database(name)
    await upgrade_async(url)
    db = open_database(url)
    try:
        yield db
    finally:
        await db.dispose()
        if not keep:
            await drop_database(name)


def print_result(result: dict[str, Any]) -> None:
    """The last line of every benchmark: one JSON object."""
    print(json.dumps(result, sort_keys=True))
