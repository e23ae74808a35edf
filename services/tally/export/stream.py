"""Every TPS's current result, streamed in primary-key order (keyset pages, one short read
transaction each) so an export of 823k TPS never holds a connection or the whole table."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Literal

from sqlalchemy import select, tuple_

from shared.db.engine import Database
from shared.db.tables import TallyTps
from shared.events import format_time

BATCH = 2_000
Format = Literal["csv", "jsonl"]
CSV_HEADER = ("tps", "contest", "page", "field", "value", "acceptance_id", "source", "revision")


async def tps_results(db: Database, contest: str | None) -> AsyncIterator[TallyTps]:
    after: tuple[str, str] = ("", "")
    while True:
        async with db.reading() as session:
            stmt = (
                select(TallyTps)
                .where(tuple_(TallyTps.tps_code, TallyTps.contest) > tuple_(*after))
                .order_by(TallyTps.tps_code, TallyTps.contest)
                .limit(BATCH)
            )
            if contest:
                stmt = stmt.where(TallyTps.contest == contest)
            rows = list((await session.execute(stmt)).scalars())
        if not rows:
            return
        for row in rows:
            yield row
        after = (rows[-1].tps_code, rows[-1].contest)


def _jsonl(row: TallyTps) -> str:
    return (
        json.dumps(
            {
                "tps": row.tps_code,
                "contest": row.contest,
                "values": dict(sorted(row.values.items())),
                "pages": {
                    p: {
                        k: e[k]
                        for k in (
                            "acceptance_id",
                            "event_id",
                            "submission_id",
                            "revision",
                            "source",
                        )
                    }
                    for p, e in sorted(row.pages.items())
                },
                "anomalies": [a.get("kind") for a in row.anomalies],
                "updated_at": format_time(row.updated_at),
            },
            separators=(",", ":"),
        )
        + "\n"
    )


def _csv(row: TallyTps) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for page, entry in sorted(row.pages.items(), key=lambda pe: int(pe[0])):
        for field, value in sorted(entry["values"].items()):
            writer.writerow(
                (
                    row.tps_code,
                    row.contest,
                    page,
                    field,
                    value,
                    entry["acceptance_id"],
                    entry["source"],
                    entry["revision"],
                )
            )
    return buf.getvalue()


async def export_lines(db: Database, fmt: Format, contest: str | None) -> AsyncIterator[str]:
    if fmt == "csv":
        yield ",".join(CSV_HEADER) + "\n"
    encode = _csv if fmt == "csv" else _jsonl
    chunk: list[str] = []
    async for row in tps_results(db, contest):
        chunk.append(encode(row))
        if len(chunk) >= 500:  # fewer, larger writes to the socket
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)
