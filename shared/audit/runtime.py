"""What a service holds to run and serve the log, and how its lifespan starts the sequencer.

    async with running_log(settings, db) as log_state:
        app.state.log = log_state      # read by services.tally.log_api
        yield

Several replicas may all start it: the lease lets one sequence at a time and another take
over within `lease_ttl_s` if that one dies.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from shared.audit.config import LogConfig
from shared.audit.sequencer import Sequencer
from shared.db.engine import Database
from shared.settings import Settings


@dataclass
class LogState:
    db: Database
    config: LogConfig
    sequencer: Sequencer | None = None


@asynccontextmanager
async def running_log(
    settings: Settings,
    db: Database,
    *,
    config: LogConfig | None = None,
    sequence: bool = True,
) -> AsyncIterator[LogState]:
    """Build the log's state; with `sequence`, run the sequencer until the context exits."""
    config = config or LogConfig.from_settings(settings)
    if not sequence:
        yield LogState(db, config)
        return
    sequencer = Sequencer(db, config)
    task = asyncio.create_task(sequencer.run(), name="audit-log-sequencer")
    try:
        yield LogState(db, config, sequencer)
    finally:
        sequencer.stop()
        await task
