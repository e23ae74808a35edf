"""Databases of a test's own on the session's PostgreSQL server (SIREKAP_TEST_PG): made from
nothing, dropped after, named by the caller so parallel sessions never share one. The work is
`standins.postgres`'s; only the server differs."""

from __future__ import annotations

import os

from standins import postgres

PG_ADMIN_DSN = os.environ.get("SIREKAP_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


async def recreate_database(name: str) -> None:
    await postgres.recreate_database(name, PG_ADMIN_DSN)


async def drop_database(name: str) -> None:
    await postgres.drop_database(name, PG_ADMIN_DSN)


def database_url(name: str) -> str:
    return postgres.pg_url(name, PG_ADMIN_DSN)
