"""What the ingest app builds in its lifespan, and the dependencies that hand it to endpoints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from shared.db.engine import Database
from shared.settings import Settings
from shared.storage import ObjectStore


@dataclass
class IngestState:
    settings: Settings
    db: Database
    store: ObjectStore


async def get_state(request: Request) -> IngestState:
    # A coroutine, not a plain function: FastAPI runs a plain dependency in a worker thread,
    # a thread hop per request for one attribute lookup.
    state: IngestState = request.app.state.ingest
    return state


StateDep = Annotated[IngestState, Depends(get_state)]
