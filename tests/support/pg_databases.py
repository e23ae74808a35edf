"""Databases of a test's own on the session's PostgreSQL server (SIREKAP_TEST_PG): made from
nothing, dropped after, named by the caller so parallel sessions never share one."""

from __future__ import annotations

import os

import asyncpg

PG_ADMIN_DSN = os.environ.get("SIREKAP_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


async def recreate_database(name: str) -> None:
    """Drop `name` if a crashed run left it, then create it empty."""
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def database_url(name: str) -> str:
    """The SQLAlchemy (asyncpg) URL of database `name` on the admin DSN's server."""
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"
