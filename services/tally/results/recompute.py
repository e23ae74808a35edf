"""Recount every total from the accepted values alone and compare it with the running totals.

The incremental path (`shared.acceptance`) must leave `tally_totals` equal to what a full recount
of `acceptances` gives: per (TPS, contest, page) the acceptance with the highest (submission
version, id), summed up the hierarchy. The recount runs in SQL (portable to SQLite and
PostgreSQL) down to villages and kecamatan, so it scales to the national 823k TPS; dapil totals
are summed in Python from the kecamatan rows, because dapil membership is a Python rule.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared import jsonio
from shared.acceptance import dapil_of, dialect_of
from shared.db.engine import Database

Key = tuple[str, str, str]  # scope, contest, key
RECOUNT_WORK_MEM = "256MB"

_LATEST = """
latest AS (
  SELECT tps_code, contest, "values" FROM (
    SELECT tps_code, contest, "values", ROW_NUMBER() OVER (
      PARTITION BY tps_code, contest, page ORDER BY submission_version DESC, id DESC) AS rn
    FROM acceptances) ranked
  WHERE rn = 1)
"""
# Each backend's JSON functions: a JSON object's (key, value) rows, and the aggregate back.
_EACH = {"postgresql": "jsonb_each_text", "sqlite": "json_each"}
_OBJECT_AGG = {"postgresql": "jsonb_object_agg", "sqlite": "json_group_object"}


def _stored_rows(dialect: str) -> str:
    """The stored running totals, one (scope, contest, key, value) per key of each shard's row."""
    return f"""(SELECT t.scope, t.contest, e.key, CAST(e.value AS BIGINT) AS value
               FROM tally_totals t, {_EACH[dialect]}(t.vals) e)"""


_LEVELS = (
    "'00'",
    "substr(d, 1, 2)",
    "substr(d, 1, 2) || '.' || substr(d, 3, 2)",
    "substr(d, 1, 2) || '.' || substr(d, 3, 2) || '.' || substr(d, 5, 2)",
    "substr(d, 1, 2) || '.' || substr(d, 3, 2) || '.' || substr(d, 5, 2) || '.' || substr(d, 7, 4)",
)


@dataclass
class Recount:
    scopes: int = 0
    values: int = 0
    mismatches: list[dict[str, object]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def equal(self) -> bool:
        return not self.mismatches


async def _recount_tables(session: AsyncSession) -> None:
    """Temporary tables: village sums (`recount_desa`) and every region scope (`recount`)."""
    expand = f'{_EACH[dialect_of(session)]}(l."values") e'
    await session.execute(text("DROP TABLE IF EXISTS recount_desa"))
    await session.execute(text("DROP TABLE IF EXISTS recount"))
    await session.execute(
        text(
            f"""CREATE TEMPORARY TABLE recount_desa AS WITH {_LATEST}
            SELECT substr(l.tps_code, 1, 10) AS d, l.contest AS contest, e.key AS key,
                   SUM(CAST(e.value AS BIGINT)) AS value
            FROM latest l, {expand} GROUP BY 1, 2, 3
            UNION ALL
            SELECT substr(tps_code, 1, 10), contest, '_tps', COUNT(DISTINCT tps_code)
            FROM latest GROUP BY 1, 2"""
        )
    )
    parts = " UNION ALL ".join(
        f"SELECT {expr} AS scope, {n} AS level, contest, key, value FROM recount_desa"
        for n, expr in enumerate(_LEVELS)
    )
    await session.execute(
        text(
            f"""CREATE TEMPORARY TABLE recount AS
            SELECT scope, level, contest, key, SUM(value) AS value FROM ({parts}) s
            GROUP BY scope, level, contest, key"""
        )
    )


async def _dapil_recount(session: AsyncSession) -> dict[Key, int]:
    rows = await session.execute(
        text("SELECT scope, contest, key, value FROM recount WHERE level = 3")
    )
    out: dict[Key, int] = defaultdict(int)
    for scope, contest, key, value in rows.all():
        dapil = dapil_of(contest, (scope.replace(".", "") + "2000001")[:13])
        if dapil is not None:
            out[(dapil, contest, key)] += int(value)
    return out


async def _compare(session: AsyncSession, report: Recount) -> None:
    stored_rows = _stored_rows(dialect_of(session))
    rows = await session.execute(
        text(
            f"""SELECT scope, contest, key, SUM(rv) AS recount, SUM(sv) AS stored FROM (
                 SELECT scope, contest, key, value AS rv, 0 AS sv FROM recount
                 UNION ALL
                 SELECT scope, contest, key, 0, value FROM {stored_rows} s
                 WHERE scope NOT LIKE '%-%') c
               GROUP BY scope, contest, key HAVING SUM(rv) <> SUM(sv)
               ORDER BY scope, contest, key LIMIT 50"""
        )
    )
    report.mismatches.extend(
        {"scope": s, "contest": c, "key": k, "recount": int(r), "stored": int(v)}
        for s, c, k, r, v in rows.all()
    )
    counts = (
        await session.execute(text("SELECT COUNT(DISTINCT scope), COUNT(*) FROM recount"))
    ).one()
    report.scopes, report.values = int(counts[0]), int(counts[1])
    dapil = await _dapil_recount(session)
    stored: dict[Key, int] = defaultdict(int)
    for scope, contest, key, value in (
        await session.execute(
            text(
                f"SELECT scope, contest, key, SUM(value) FROM {stored_rows} s "
                "WHERE scope LIKE '%-%' GROUP BY scope, contest, key"
            )
        )
    ).all():
        stored[(scope, contest, key)] = int(value)
    for k in sorted(set(dapil) | set(stored)):
        if dapil.get(k, 0) != stored.get(k, 0):
            report.mismatches.append(
                {
                    "scope": k[0],
                    "contest": k[1],
                    "key": k[2],
                    "recount": dapil.get(k, 0),
                    "stored": stored.get(k, 0),
                }
            )
    report.scopes += len({k[0] for k in dapil})
    report.values += len(dapil)


async def recompute(db: Database, *, repair: bool = False) -> Recount:
    """Recount from `acceptances`; compare with `tally_totals` (or replace them when `repair`)."""
    started = time.perf_counter()
    report = Recount()
    async with db.transaction() as session:
        if dialect_of(session) == "postgresql":
            # The window sort over every acceptance (1.6M rows nationally for PPWP alone) spills
            # to disk at the default 4 MB; this one transaction may use more.
            await session.execute(text(f"SET LOCAL work_mem = '{RECOUNT_WORK_MEM}'"))
        await _recount_tables(session)
        if repair:
            await _replace_totals(session)
        await _compare(session, report)
        await session.execute(text("DROP TABLE recount_desa"))
        await session.execute(text("DROP TABLE recount"))
    report.seconds = time.perf_counter() - started
    return report


async def _replace_totals(session: AsyncSession) -> None:
    """Rewrite the running totals from the recount (repair, and the benchmark's bulk load)."""
    await session.execute(text("DELETE FROM tally_totals"))
    agg = _OBJECT_AGG[dialect_of(session)]
    await session.execute(
        text(
            "INSERT INTO tally_totals (scope, contest, shard, vals) "
            f"SELECT scope, contest, 0, {agg}(key, value) FROM recount GROUP BY scope, contest"
        )
    )
    dapil: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for (scope, contest, key), value in (await _dapil_recount(session)).items():
        dapil[(scope, contest)][key] = value
    if dapil:
        await session.execute(
            text(
                "INSERT INTO tally_totals (scope, contest, shard, vals) "
                "VALUES (:scope, :contest, 0, :vals)"
            ),
            [
                {"scope": s, "contest": c, "vals": jsonio.dumps(vals)}
                for (s, c), vals in sorted(dapil.items())
            ],
        )
