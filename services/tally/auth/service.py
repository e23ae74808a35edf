"""Officials: add an account, check a login."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from services.tally.auth.passwords import DUMMY_HASH, check_password, hash_password
from shared.auth import ROLE_LEVEL, Official, Role
from shared.db.tables import OfficialAccount
from shared.errors import Conflict, Unauthorized, Unprocessable
from shared.reference.regions import level_of


async def add_official(
    session: AsyncSession, *, username: str, password: str, role: Role, region: str
) -> Official:
    if len(password) < 10:
        raise Unprocessable("password needs at least 10 characters", "Kata sandi minimal 10 huruf.")
    if level_of(region) != ROLE_LEVEL[role]:
        raise Unprocessable(
            f"{role} is scoped to level {ROLE_LEVEL[role]} regions, not {region}",
            f"Peran {role} harus untuk wilayah tingkat {ROLE_LEVEL[role]}.",
        )
    if await session.get(OfficialAccount, username) is not None:
        raise Conflict(f"official {username} exists", f"Petugas {username} sudah ada.")
    hashed = await asyncio.to_thread(hash_password, password)  # ~50 ms of CPU
    session.add(
        OfficialAccount(username=username, password_hash=hashed, role=str(role), region=region)
    )
    return Official(username, role, region)


async def login(session: AsyncSession, username: str, password: str) -> Official:
    account = await session.get(OfficialAccount, username)
    stored = account.password_hash if account and account.disabled_at is None else DUMMY_HASH
    ok = await asyncio.to_thread(check_password, password, stored)
    if not ok or account is None or account.disabled_at is not None:
        raise Unauthorized("wrong username or password", "Nama pengguna atau kata sandi salah.")
    return Official(account.username, Role(account.role), account.region)
