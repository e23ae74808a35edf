"""Scratch databases on a local PostgreSQL server: made from nothing, dropped after.

The caller names each database, so parallel runs (a benchmark beside the test suite) never
share one. `admin_dsn` is a database the caller may connect to and CREATE DATABASE from.
"""

from __future__ import annotations

import os

import asyncpg

# The benchmarks' and simulations' server; the tests name theirs with SIREKAP_TEST_PG.
PG_ADMIN_DSN = os.environ.get("SIREKAP_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


async def recreate_database(name: str, admin_dsn: str = PG_ADMIN_DSN) -> None:
    """Drop `name` if a crashed run left it, then create it empty."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(name: str, admin_dsn: str = PG_ADMIN_DSN) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def pg_url(name: str, admin_dsn: str = PG_ADMIN_DSN) -> str:
    """The SQLAlchemy (asyncpg) URL of database `name` on the admin DSN's server."""
    base = admin_dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


async def fresh_pg_database(name: str, admin_dsn: str = PG_ADMIN_DSN) -> str:
    """Drop and create `name`; returns its SQLAlchemy URL."""
    await recreate_database(name, admin_dsn)
    return pg_url(name, admin_dsn)
