"""What the tally app builds in its lifespan, and the dependencies that hand it to endpoints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.tally.export.files import ExportFiles
from services.tally.regions import RegionIndex
from services.tally.results.hot import HotReads
from shared.db.engine import Database
from shared.settings import Settings
from shared.storage import ObjectStore


@dataclass
class TallyState:
    settings: Settings
    db: Database
    store: ObjectStore
    regions: RegionIndex
    hot: HotReads
    auth_secret: str
    exports: ExportFiles


async def get_state(request: Request) -> TallyState:
    # A coroutine, not a plain function: FastAPI runs a plain dependency in a worker thread,
    # a thread hop per request (~0.5 ms of a region-total request's 2 ms) for one lookup.
    state: TallyState = request.app.state.tally
    return state


StateDep = Annotated[TallyState, Depends(get_state)]
