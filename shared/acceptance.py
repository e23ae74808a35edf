"""Acceptance is one place: whether a page's values count, and the tally delta, in one transaction.

The OCR worker calls `accept_page(source="auto")` when a reading passes every rule; the tally
service calls it with "confirmed" or "corrected" when an official (or the TPS's KPPS) reviews a
page. Every call, in the caller's session and transaction:

1. locks the (TPS, contest) row of `tally_tps`, so acceptances of one TPS queue one behind the
   other and each sees what the previous one counted;
2. appends an `acceptances` row (never updated) and an audit event that cites the submission,
   the reading, the acceptance it supersedes and the fields it changes;
3. when this acceptance is the page's newest (highest submission version, then newest), adds
   `new − previously counted` for every field to each ancestor region's totals and the dapil's,
   with atomic `value = value + delta` upserts: O(depth) rows, exact under concurrency.

The totals can always be recomputed from `acceptances` alone (`services.tally.results.recompute`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.consistency import check
from shared.contests import Contest, definition
from shared.db.base import utcnow
from shared.db.tables import Acceptance, Reading, Submission, TallyTotal, TallyTps, Tps
from shared.db.tables.tally import TPS_KEY
from shared.errors import Conflict, NotFound, Unprocessable
from shared.events import record_event

Source = Literal["auto", "confirmed", "corrected"]
EVENT_KIND: dict[str, str] = {
    "auto": "acceptance",
    "confirmed": "confirmation",
    "corrected": "correction",
}
# Nation, province, kabupaten and dapil rows take every acceptance below them; 16 rows per key
# spread those row locks so concurrent acceptances rarely wait on each other (readers sum them).
SHARDS = 16
SHARDED_MAX_LEVEL = 2


class RevisionConflict(Conflict):
    """The page was accepted or corrected since the version the client saw."""

    detail_id_default = "Halaman ini telah diubah oleh orang lain; muat ulang lalu coba lagi."


@dataclass(frozen=True, slots=True)
class Scope:
    code: str  # dotted region code, or a dapil code
    level: int  # 0 nation … 4 desa; 9 for a dapil
    shard: int


def region_chain(tps_code: str) -> list[str]:
    """`1708042001003` → ["00", "17", "17.08", "17.08.04", "17.08.04.2001"]."""
    c = tps_code
    return [
        "00",
        c[:2],
        f"{c[:2]}.{c[2:4]}",
        f"{c[:2]}.{c[2:4]}.{c[4:6]}",
        f"{c[:2]}.{c[2:4]}.{c[4:6]}.{c[6:10]}",
    ]


def dapil_of(contest: str, tps_code: str) -> str | None:
    """The dapil scope a contest's totals also roll up to (none for PPWP: that is the nation)."""
    if contest == Contest.PPWP:
        return None
    return definition(contest, tps_code).dapil


def shard_of(tps_code: str, level: int) -> int:
    return int(tps_code) % SHARDS if level <= SHARDED_MAX_LEVEL else 0


def scopes_of(contest: str, tps_code: str) -> list[Scope]:
    chain = [
        Scope(code, level, shard_of(tps_code, level))
        for level, code in enumerate(region_chain(tps_code))
    ]
    dapil = dapil_of(contest, tps_code)
    if dapil is not None:
        chain.append(Scope(dapil, 9, shard_of(tps_code, 0)))
    return chain


def anomalies_of(
    contest: str, tps_code: str, values: Mapping[str, int], dpt: int | None
) -> list[dict[str, Any]]:
    """What is wrong with a TPS's counted numbers, for the anomaly list."""
    found: list[dict[str, Any]] = [
        {
            "kind": "rule",
            "rule": v.rule,
            "fields": list(v.fields),
            "message_en": v.message_en,
            "message_id": v.message_id,
        }
        for v in check(values, definition(contest, tps_code), dpt)
    ]
    turnout = values.get("pengguna_total_j")
    if dpt is not None and turnout is not None and turnout > dpt:
        found.append(
            {
                "kind": "turnout_above_dpt",
                "rule": None,
                "fields": ["pengguna_total_j"],
                "message_en": f"turnout {turnout} above the DPT of {dpt} (check DPTb/DPK)",
                "message_id": f"pengguna hak pilih {turnout} melebihi DPT {dpt} (periksa DPTb/DPK)",
            }
        )
    return found


def _validate(contest: str, tps_code: str, page: int, values: Mapping[str, Any]) -> None:
    defn = definition(contest, tps_code)
    allowed = {f.key for f in defn.page_fields(page)}
    if not allowed:
        raise Unprocessable(
            f"{contest} has no page {page}", f"Formulir {contest} tidak memiliki halaman {page}."
        )
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise Unprocessable(
            f"fields not on {contest} page {page}: {unknown}",
            f"Isian tidak ada di halaman {page} formulir {contest}: {', '.join(unknown)}",
        )
    bad = sorted(k for k, v in values.items() if type(v) is not int or v < 0)
    if bad:
        raise Unprocessable(
            f"values must be non-negative integers: {bad}",
            f"Nilai harus bilangan bulat tidak negatif: {', '.join(bad)}",
        )


def dialect_of(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _insert(session: AsyncSession) -> Any:
    return pg_insert if dialect_of(session) == "postgresql" else sqlite_insert


async def _lock_tps(
    session: AsyncSession, tps_code: str, contest: str
) -> tuple[dict[str, Any], dict[str, int]]:
    """Create-or-lock the (TPS, contest) row in one round trip and return its pages and values.

    `ON CONFLICT DO UPDATE` takes the row lock (PostgreSQL waits for a concurrent holder and then
    sees its committed row); on SQLite the write transaction already holds the database lock.
    """
    ins = _insert(session)(TallyTps).values(
        tps_code=tps_code,
        contest=contest,
        pages={},
        values={},
        anomalies=[],
        anomaly_count=0,
        updated_at=utcnow(),
    )
    stmt = ins.on_conflict_do_update(
        index_elements=["tps_code", "contest"], set_={"tps_code": ins.excluded.tps_code}
    ).returning(TallyTps.pages, TallyTps.values)
    row = (await session.execute(stmt)).one()
    return dict(row.pages or {}), dict(row.values or {})


async def add_to_totals(
    session: AsyncSession,
    contest: str,
    tps_code: str,
    delta: Mapping[str, int],
) -> None:
    """`value += delta` for every scope above the TPS, in one statement, rows in a fixed order
    (so two transactions touching the same rows lock them in the same order: no deadlock)."""
    changed = {k: d for k, d in delta.items() if d}
    if not changed:
        return
    rows = sorted(
        (s.code, contest, k, s.shard, d)
        for s in scopes_of(contest, tps_code)
        for k, d in changed.items()
    )
    ins = _insert(session)(TallyTotal).values(
        [{"scope": r[0], "contest": r[1], "key": r[2], "shard": r[3], "value": r[4]} for r in rows]
    )
    stmt = ins.on_conflict_do_update(
        index_elements=["scope", "contest", "key", "shard"],
        set_={"value": TallyTotal.value + ins.excluded.value},
    )
    await session.execute(stmt)


async def accept_page(
    session: AsyncSession,
    *,
    submission_id: str,
    tps_code: str,
    contest: str,
    page: int,
    values: dict[str, int],
    source: Source,
    reading_id: int | None,
    actor: str,
    reason: str | None,
    expected_revision: int | None = None,
) -> int:
    """Record an acceptance and apply its tally delta; returns the acceptance's audit event id.

    `expected_revision` (reviews only) is the page revision the reviewer saw: 0 when nothing was
    accepted yet. If another acceptance landed since, `RevisionConflict` (409) is raised and
    nothing is written.
    """
    if source not in EVENT_KIND:
        raise Unprocessable(f"unknown source {source!r}", "Sumber penerimaan tidak dikenal.")
    if source == "corrected" and not (reason or "").strip():
        raise Unprocessable("a correction needs a reason", "Koreksi wajib disertai alasan.")
    _validate(contest, tps_code, page, values)
    sub = (
        await session.execute(
            select(
                Submission.version,
                Submission.tps_code,
                Submission.contest,
                Submission.page,
                Tps.dpt,
            )
            .join(Tps, Tps.code == Submission.tps_code)
            .where(Submission.id == submission_id)
        )
    ).one_or_none()
    if sub is None:
        raise NotFound(f"no submission {submission_id}", "Kiriman foto tidak ditemukan.")
    if (sub.tps_code, sub.contest, sub.page) != (tps_code, contest, page):
        raise Unprocessable(
            f"submission {submission_id} is {sub.tps_code}/{sub.contest}/{sub.page}",
            "Kiriman foto ini untuk TPS, jenis pemilihan atau halaman lain.",
        )
    broken = check(values, definition(contest, tps_code), sub.dpt)
    if broken and source == "auto":
        # The 2024 failure: numbers the form's own arithmetic contradicts published as read.
        raise Unprocessable(
            f"auto-acceptance of values that break {sorted({v.rule for v in broken})}",
            "Hasil bacaan mesin yang melanggar aturan konsistensi tidak boleh diterima otomatis.",
        )
    if broken and not (reason or "").strip():
        raise Unprocessable(
            "values that break a consistency rule need a reason",
            "Angka yang melanggar aturan konsistensi wajib disertai alasan.",
            extra={"violations": [v.message_en for v in broken]},
        )

    pages, counted_values = await _lock_tps(session, tps_code, contest)
    key = str(page)
    first_page = not pages
    before = pages.get(key)
    current_revision = int(before["revision"]) if before else 0
    if expected_revision is not None and expected_revision != current_revision:
        raise RevisionConflict(
            f"page is at revision {current_revision}, not {expected_revision}",
            extra={"revision": current_revision},
        )
    # Newest submission version wins; among acceptances of one version, the latest.
    counts = before is None or sub.version >= int(before["submission_version"])
    old_page: dict[str, int] = dict(before["values"]) if before and counts else {}
    machine: dict[str, Any] = {}
    if reading_id is not None and source != "auto" and not before:
        machine = (
            await session.execute(select(Reading.values).where(Reading.id == reading_id))
        ).scalar_one_or_none() or {}
    baseline = old_page or machine
    changes = {
        k: [baseline.get(k), values.get(k)]
        for k in sorted(set(baseline) | set(values))
        if baseline.get(k) != values.get(k)
    }
    event = await record_event(
        session,
        kind=EVENT_KIND[source],
        tps_code=tps_code,
        contest=contest,
        payload={
            "submission": submission_id,
            "submission_version": sub.version,
            "page": page,
            "reading": reading_id,
            "source": source,
            "revision": current_revision + 1,
            "values": dict(sorted(values.items())),
            "counted": counts,
            "supersedes": before["event_id"] if before else None,
            "changes": changes,
            "actor": actor,
            "reason": reason,
        },
    )
    acceptance = Acceptance(
        tps_code=tps_code,
        contest=contest,
        page=page,
        revision=current_revision + 1,
        submission_id=submission_id,
        submission_version=sub.version,
        reading_id=reading_id,
        source=source,
        values=dict(values),
        supersedes=before["acceptance_id"] if before else None,
        counted=counts,
        actor=actor,
        reason=reason,
        event_id=event.id,
    )
    session.add(acceptance)
    await session.flush()

    entry = {
        "acceptance_id": acceptance.id,
        "event_id": event.id,
        "submission_id": submission_id,
        "submission_version": sub.version,
        "revision": current_revision + 1,
        "source": source,
        "values": dict(values),
    }
    if not counts:
        # An older photo's acceptance: kept in the history, changes nothing that counts.
        assert before is not None
        pages[key] = {**before, "revision": current_revision + 1}
        await session.execute(
            update(TallyTps)
            .where(TallyTps.tps_code == tps_code, TallyTps.contest == contest)
            .values(pages=pages)
        )
        return event.id

    pages[key] = entry
    new_values = {k: v for k, v in counted_values.items() if k not in old_page}
    new_values.update(values)
    anomalies = anomalies_of(contest, tps_code, new_values, sub.dpt)
    await session.execute(
        update(TallyTps)
        .where(TallyTps.tps_code == tps_code, TallyTps.contest == contest)
        .values(
            pages=pages,
            values=new_values,
            anomalies=anomalies,
            anomaly_count=len(anomalies),
            updated_at=utcnow(),
        )
    )
    delta = {k: values.get(k, 0) - old_page.get(k, 0) for k in set(values) | set(old_page)}
    if first_page:
        delta[TPS_KEY] = 1  # the first counted page of this TPS: it now shows as reported
    await add_to_totals(session, contest, tps_code, delta)
    return event.id


__all__ = [
    "EVENT_KIND",
    "SHARDS",
    "RevisionConflict",
    "Scope",
    "Source",
    "accept_page",
    "add_to_totals",
    "anomalies_of",
    "dapil_of",
    "dialect_of",
    "region_chain",
    "scopes_of",
    "shard_of",
]
