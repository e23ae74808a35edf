"""Anomalies in a region: what a supervisor should look at first.

- `rule` / `turnout_above_dpt`: counted numbers that break a consistency rule (only possible
  after a human override with a reason) or a turnout above the DPT;
- `retake_disagrees`: a page photographed twice whose readings differ;
- `review_waiting`: a page that has waited for review longer than `stale_after_s`;
- `kpps_dispute`: the TPS's KPPS disputes the page as it stands, and no official has answered.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.tally.results import repository
from services.tally.review import repository as review_repo
from shared.db.base import utcnow
from shared.events import format_time
from shared.timezones import local_time

STALE_AFTER_S = 2 * 3600  # KPU's target was results within hours; a page unreviewed 2 h is late


async def region_anomalies(
    session: AsyncSession, prefix: str, contest: str, *, stale_after_s: int, limit: int
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for row in await repository.anomalous_tps(session, prefix, contest, limit):
        for a in row["anomalies"]:
            out.append(
                {
                    **a,
                    "tps": row["tps"],
                    "contest": contest,
                    "updated_at": format_time(row["updated_at"]),
                }
            )
    for r in await review_repo.disagreeing_retakes(session, prefix, contest, limit):
        out.append(
            {
                "kind": "retake_disagrees",
                "rule": None,
                "tps": r["tps"],
                "contest": contest,
                "page": r["page"],
                "fields": r["fields"],
                "submissions": r["submissions"],
                "message_en": f"retakes of page {r['page']} read differently: "
                + ", ".join(r["fields"]),
                "message_id": f"foto ulang halaman {r['page']} terbaca berbeda: "
                + ", ".join(r["fields"]),
            }
        )
    for d in await review_repo.open_disputes(session, prefix, contest, limit=limit):
        out.append(
            {
                "kind": "kpps_dispute",
                "rule": None,
                "tps": d.tps_code,
                "contest": contest,
                "page": d.page,
                "fields": d.fields,
                "revision": d.revision,
                "message_en": f"the KPPS disputes page {d.page}: {d.reason}",
                "message_id": f"KPPS menyanggah halaman {d.page}: {d.reason}",
            }
        )
    before = utcnow() - timedelta(seconds=stale_after_s)
    for q in await review_repo.review_queue(
        session, prefix, contest, limit=limit, received_before=before
    ):
        waited_h = (utcnow() - q.received_at).total_seconds() / 3600
        out.append(
            {
                "kind": "review_waiting",
                "rule": None,
                "tps": q.Reading.tps_code,
                "contest": contest,
                "page": q.Reading.page,
                "fields": [],
                "submission_id": q.Reading.submission_id,
                "received_at_local": local_time(q.received_at, q.Reading.tps_code),
                "message_en": f"waiting for review for {waited_h:.1f} h",
                "message_id": f"menunggu pemeriksaan selama {waited_h:.1f} jam",
            }
        )
    return out[:limit]
