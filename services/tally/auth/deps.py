"""Who is asking: the official behind a bearer token.

Coroutines, so FastAPI does not run them in a worker thread (an HMAC check is microseconds;
the thread hop is not)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from services.tally.state import StateDep
from shared.auth import Official, Role, bearer, verify_token
from shared.errors import Forbidden


async def current_official(
    state: StateDep, authorization: Annotated[str | None, Header()] = None
) -> Official:
    return verify_token(state.auth_secret, bearer(authorization))


async def writing_official(official: Annotated[Official, Depends(current_official)]) -> Official:
    if official.role is Role.AUDITOR:
        raise Forbidden("auditors read, they do not write", "Auditor hanya dapat membaca.")
    return official


OfficialDep = Annotated[Official, Depends(current_official)]
WriterDep = Annotated[Official, Depends(writing_official)]
