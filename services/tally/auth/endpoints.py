"""POST /api/v1/auth/login: username + password → a bearer token scoped to the official's region."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.tally.auth.deps import OfficialDep
from services.tally.auth.service import login
from services.tally.state import StateDep
from shared.auth import TOKEN_TTL_S, issue_token

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=120)
    password: str = Field(min_length=1, max_length=200)


@router.post("/login")
async def post_login(body: Login, state: StateDep) -> dict[str, Any]:
    async with state.db.reading() as session:
        official = await login(session, body.username, body.password)
    return {
        "token": issue_token(state.auth_secret, official),
        "token_type": "bearer",
        "expires_in": TOKEN_TTL_S,
        "username": official.username,
        "role": str(official.role),
        "region": official.region,
    }


@router.get("/me")
async def get_me(official: OfficialDep) -> dict[str, str]:
    return {"username": official.username, "role": str(official.role), "region": official.region}
