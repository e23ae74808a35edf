"""Acceptance is one place: whether a page's values count, and the tally delta, in one transaction.

The OCR worker calls `accept_page(source="auto")` when a reading passes every rule; the tally
service calls it with "confirmed" or "corrected" when an official (or the TPS's KPPS) reviews a
page. Every call, in the caller's session and transaction:

1. locks the (TPS, contest) event head, then the `tally_tps` row (the order the OCR worker,
   which writes its reading event first, also takes them), so acceptances of one TPS queue one
   behind the other and each sees what the previous one counted (on PostgreSQL the row is only
   read under the head lock and written once at the end: every writer holds the head first);
2. appends an `acceptances` row (never updated) and an audit event that cites the submission,
   the reading, the acceptance it supersedes and the fields it changes;
3. when this acceptance is the page's newest (highest submission version, then newest), adds
   `new − previously counted` for every field to each ancestor region's totals and the dapil's,
   with atomic upserts that add the delta inside each scope's row (`tally_add`): O(depth)
   rows, exact under concurrency.

The totals can always be recomputed from `acceptances` alone (`services.tally.results.recompute`).
`accept_pages` does the same for a batch; on PostgreSQL both run one set-based implementation:
one multi-row insert for the batch's events (chained per TPS in Python), one for its acceptances,
and one upsert of the totals summed per row (`TotalsDelta`), written to a totals shard no
concurrent transaction holds (`_SUBS_PG`).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared import jsonio
from shared.canonical import MAX_SAFE_INTEGER, plain_json
from shared.consistency import Violation, check, relations, supply
from shared.contests import Contest, ContestDefinition, dapil_code, definition
from shared.db.base import utcnow
from shared.db.tables import Acceptance, Reading, Submission, TallyTps, Tps
from shared.db.tables.tally import TPS_KEY
from shared.errors import Conflict, NotFound, Unprocessable
from shared.events import canonical_entry, entry_envelope, record_event

Source = Literal["auto", "confirmed", "corrected"]
EVENT_KIND: dict[str, str] = {
    "auto": "acceptance",
    "confirmed": "confirmation",
    "corrected": "correction",
}
# Nation, province, kabupaten and dapil rows take every acceptance below them; 16 shard rows
# per scope spread those row locks so concurrent acceptances rarely wait on each other (readers
# sum them).
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
    return dapil_code(Contest(contest), tps_code)


_FORMS: dict[tuple[str, str], ContestDefinition] = {}


def form_of(contest: str, tps_code: str) -> ContestDefinition:
    """The contest's form at a TPS. Fields, candidates and rules depend only on the contest and
    the dapil, so one definition per dapil serves every TPS in it: `definition()` caches 1,024
    TPS, and rebuilding a form per TPS cost ~0.4 ms of every acceptance at national scale."""
    key = (contest, dapil_code(Contest(contest), tps_code))
    form = _FORMS.get(key)
    if form is None:
        form = _FORMS[key] = definition(contest, tps_code)
    return form


def shard_of(tps_code: str, level: int, shard: int | None = None) -> int:
    """The shard row a TPS's delta goes to at `level`: `shard` when the transaction chose one
    (PostgreSQL: a shard no concurrent transaction holds), else by the TPS's code. Any choice
    is exact, readers and the recount sum the shards; only lock contention depends on it."""
    if level > SHARDED_MAX_LEVEL:
        return 0
    return int(tps_code) % SHARDS if shard is None else shard


def scopes_of(contest: str, tps_code: str, shard: int | None = None) -> list[Scope]:
    chain = [
        Scope(code, level, shard_of(tps_code, level, shard))
        for level, code in enumerate(region_chain(tps_code))
    ]
    dapil = dapil_of(contest, tps_code)
    if dapil is not None:
        chain.append(Scope(dapil, 9, shard_of(tps_code, 0, shard)))
    return chain


# Per form: its relations as (lhs, rhs, every key as a set, equality?) and its field keys.
_Relation = tuple[tuple[str, ...], tuple[str, ...], frozenset[str], bool]
_Compiled = tuple[list[_Relation], frozenset[str]]
_COMPILED: dict[int, tuple[ContestDefinition, _Compiled]] = {}


def _compiled(defn: ContestDefinition) -> _Compiled:
    hit = _COMPILED.get(id(defn))
    if hit is not None and hit[0] is defn:
        return hit[1]
    rels = [(r.lhs, r.rhs, frozenset(r.keys), r.op == "==") for r in relations(defn)]
    compiled = (rels, frozenset(defn.keys))
    _COMPILED[id(defn)] = (defn, compiled)
    return compiled


def violations(
    values: Mapping[str, int], defn: ContestDefinition, dpt: int | None
) -> list[Violation]:
    """`shared.consistency.check`, answered without building anything when nothing is broken
    (nearly every acceptance): the same relations and bounds, evaluated on precompiled tuples.
    Any doubt, and every violation's message, is `check`'s."""
    rels, keys = _compiled(defn)
    present = values.keys()
    for lhs, rhs, both, eq in rels:
        if both <= present:
            left = sum([values[k] for k in lhs])
            right = sum([values[k] for k in rhs])
            if (left != right) if eq else (left > right):
                return check(values, defn, dpt)
    top = supply(dpt)
    for k, v in values.items():
        if k in keys and (type(v) is not int or v < 0 or v > top):
            return check(values, defn, dpt)
    return []


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
        for v in violations(values, form_of(contest, tps_code), dpt)
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


def changes_from(baseline: Mapping[str, Any], values: Mapping[str, int]) -> dict[str, list[Any]]:
    """Fields whose value differs from what this acceptance replaces (the counted values, or
    the machine's reading for a first review): `{field: [old, new]}`. A first auto-acceptance
    replaces nothing; its event's `values` already say everything, at half the entry size."""
    if not baseline:
        return {}
    return {
        k: [baseline.get(k), values.get(k)]
        for k in sorted(set(baseline) | set(values))
        if baseline.get(k) != values.get(k)
    }


def _validate(contest: str, tps_code: str, page: int, values: Mapping[str, Any]) -> None:
    defn = form_of(contest, tps_code)
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
    bad = sorted(k for k, v in values.items() if type(v) is not int or not 0 <= v < 2**31)
    if bad:
        raise Unprocessable(
            f"values must be non-negative integers: {bad}",
            f"Nilai harus bilangan bulat tidak negatif: {', '.join(bad)}",
        )
    # A reason lets an official publish a number the form's arithmetic contradicts (the form
    # may really say so), but never one the form cannot hold: three boxes write at most 999.
    too_big = sorted(k for k, v in values.items() if v > 10 ** defn.field(k).boxes - 1)
    if too_big:
        raise Unprocessable(
            f"more than the form's boxes can hold: {too_big}",
            f"Melebihi angka yang dapat ditulis di kotak formulir: {', '.join(too_big)}",
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


# One constant SQL text per backend, so the driver reuses its prepared statement: a multi-row
# VALUES list built per call cost ~15 ms of SQLAlchemy compilation per acceptance. `tally_add`
# (migration 0006) adds the delta's keys into the row's object.
_UPSERT_PG = text(
    """INSERT INTO tally_totals AS t (scope, contest, shard, vals)
    SELECT * FROM unnest(CAST(:scopes AS varchar[]), CAST(:contests AS varchar[]),
                         CAST(:shards AS smallint[]), CAST(:vals AS jsonb[]))
    ON CONFLICT (scope, contest, shard) DO UPDATE SET vals = tally_add(t.vals, excluded.vals)"""
)
_READ_ROW = text(
    "SELECT vals FROM tally_totals WHERE scope = :scope AND contest = :contest AND shard = :shard"
)
_WRITE_ROW = text(
    """INSERT INTO tally_totals (scope, contest, shard, vals)
    VALUES (:scope, :contest, :shard, :vals)
    ON CONFLICT (scope, contest, shard) DO UPDATE SET vals = excluded.vals"""
)


TotalRow = tuple[str, str, int, dict[str, int]]  # scope, contest, shard, {key: delta}


def add_sums(into: dict[str, int], vals: Mapping[str, Any] | str | None) -> dict[str, int]:
    """Add one totals row's {key: sum} (a shard's share, or a delta) into `into`; `vals` as the
    driver hands it over (raw asyncpg and text() queries give JSON text)."""
    row = jsonio.loads(vals) if isinstance(vals, str) else vals or {}
    for key, value in row.items():
        into[key] = into.get(key, 0) + int(value)
    return into


def total_rows(
    contest: str, tps_code: str, delta: Mapping[str, int], shard: int | None = None
) -> list[TotalRow]:
    """The totals rows a TPS's delta moves: every scope above it, non-zero keys only."""
    merged = TotalsDelta()
    merged.add(contest, tps_code, delta, shard)
    return merged.ordered()


class TotalsDelta:
    """Deltas summed per totals row before they are written: `{(scope, contest, shard): {key:
    delta}}`. A batch's pages of one village, kecamatan … share rows, so each row is written once
    with the sum of its pages."""

    __slots__ = ("rows",)

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, int], dict[str, int]] = {}

    def add(
        self, contest: str, tps_code: str, delta: Mapping[str, int], shard: int | None = None
    ) -> None:
        changed = [(k, d) for k, d in delta.items() if d]
        if not changed:
            return
        for scope in scopes_of(contest, tps_code, shard):
            row = self.rows.get((scope.code, contest, scope.shard))
            if row is None:
                self.rows[(scope.code, contest, scope.shard)] = dict(changed)
            else:
                for k, d in changed:
                    row[k] = row.get(k, 0) + d

    def add_row(self, scope: str, contest: str, shard: int, delta: Mapping[str, int]) -> None:
        row = self.rows.setdefault((scope, contest, shard), {})
        for key, d in delta.items():
            row[key] = row.get(key, 0) + d

    def ordered(self) -> list[TotalRow]:
        """Rows with a non-zero key, in the one lock order of every writer: (scope, contest,
        shard); each row's keys sorted, zero deltas left out."""
        out: list[TotalRow] = []
        for (scope, contest, shard), row in sorted(self.rows.items()):
            changed = {k: d for k, d in sorted(row.items()) if d}
            if changed:
                out.append((scope, contest, shard, changed))
        return out


async def apply_totals(session: AsyncSession, rows: list[TotalRow] | TotalsDelta) -> None:
    """Add each row's deltas to its sums, rows in a fixed (sorted) order: two transactions
    touching the same rows lock them in the same order, so they queue instead of deadlocking."""
    if isinstance(rows, TotalsDelta):
        merged = rows
    else:
        merged = TotalsDelta()
        for scope, contest, shard, delta in rows:
            merged.add_row(scope, contest, shard, delta)
    ordered = merged.ordered()
    if not ordered:
        return
    if dialect_of(session) == "postgresql":
        params = {
            "scopes": [r[0] for r in ordered],
            "contests": [r[1] for r in ordered],
            "shards": [r[2] for r in ordered],
            "vals": [jsonio.dumps(r[3]) for r in ordered],
        }
        await session.execute(_UPSERT_PG, params)
        return
    # SQLite: in-process, and this transaction already holds the database's write lock (the
    # TPS row was written first), so reading the row and writing it back cannot interleave.
    for scope, contest, shard, delta in ordered:
        where = {"scope": scope, "contest": contest, "shard": shard}
        stored = (await session.execute(_READ_ROW, where)).scalar_one_or_none()
        sums = add_sums(add_sums({}, stored), delta)
        await session.execute(_WRITE_ROW, {**where, "vals": jsonio.dumps(sums)})


async def add_to_totals(
    session: AsyncSession, contest: str, tps_code: str, delta: Mapping[str, int]
) -> None:
    await apply_totals(session, total_rows(contest, tps_code, delta))


_LOCK_HEAD_PG = text(
    """INSERT INTO event_heads (tps_code, contest, event_id, entry_sha256)
    VALUES (:tps, :contest, 0, '')
    ON CONFLICT (tps_code, contest) DO UPDATE SET tps_code = excluded.tps_code"""
)


async def lock_event_head(session: AsyncSession, tps_code: str, contest: str) -> None:
    """Take the (TPS, contest) event-head lock first, as the OCR worker does when it writes its
    reading event before accepting: one lock order everywhere (head, tally row, totals), so an
    official's correction and an auto-acceptance of the same TPS queue instead of deadlocking.
    On SQLite the write transaction already excludes every other writer."""
    if dialect_of(session) == "postgresql":
        await session.execute(_LOCK_HEAD_PG, {"tps": tps_code, "contest": contest})


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
    if dialect_of(session) == "postgresql":
        # One implementation on PostgreSQL: the set-based path with a batch of one costs 8
        # prepared statements instead of ~11 ORM round trips (about a third of the CPU).
        item = PageAcceptance(
            submission_id,
            tps_code,
            contest,
            page,
            values,
            source,
            reading_id,
            actor,
            reason,
            expected_revision,
        )
        return (await _accept_round_pg(session, [item]))[0]
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
    broken = check(values, form_of(contest, tps_code), sub.dpt)
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

    await lock_event_head(session, tps_code, contest)
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
    changes = changes_from(baseline, values)
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


@dataclass(frozen=True, slots=True)
class PageAcceptance:
    """One page to accept in `accept_pages` (the arguments of `accept_page`, as data)."""

    submission_id: str
    tps_code: str
    contest: str
    page: int
    values: dict[str, int]
    source: Source = "auto"
    reading_id: int | None = None
    actor: str = "ocr"
    reason: str | None = None
    expected_revision: int | None = None  # reviews: the revision the reviewer saw


async def accept_pages(session: AsyncSession, items: Sequence[PageAcceptance]) -> list[int]:
    """Accept many pages in the caller's transaction; the event ids, in the order given.

    Same result, event for event, as calling `accept_page` for each item in order. On
    PostgreSQL it is set-based: a handful of statements for the whole batch (locks taken in
    sorted order, totals merged into one upsert) instead of ~9 round trips per page, which is
    what a worker draining a backlog wants. Elsewhere it calls `accept_page` item by item.
    """
    if dialect_of(session) != "postgresql":
        return [
            await accept_page(
                session,
                submission_id=i.submission_id,
                tps_code=i.tps_code,
                contest=i.contest,
                page=i.page,
                values=i.values,
                source=i.source,
                reading_id=i.reading_id,
                actor=i.actor,
                reason=i.reason,
                expected_revision=i.expected_revision,
            )
            for i in items
        ]
    # Two acceptances of one page in a batch: the second must cite the first's event, so it
    # goes in a later round (rare: an auto-acceptance and its correction in one batch).
    rounds: list[list[int]] = []
    seen: dict[tuple[str, str, int], int] = defaultdict(int)
    for n, item in enumerate(items):
        key = (item.tps_code, item.contest, item.page)
        if seen[key] == len(rounds):
            rounds.append([])
        rounds[seen[key]].append(n)
        seen[key] += 1
    event_ids: dict[int, int] = {}
    for indices in rounds:
        ids = await _accept_round_pg(session, [items[n] for n in indices])
        event_ids.update(zip(indices, ids, strict=True))
    return [event_ids[n] for n in range(len(items))]


# The submissions, and a totals shard for this transaction: the lowest one no concurrent
# transaction holds (a transaction-scoped advisory try-lock: never waits, so it adds no lock
# order). Concurrent batches then write disjoint nation/province/kabupaten rows instead of all
# queueing on the nation's, and a batch merges its pages into one row per busy scope and key.
SHARD_LOCK_CLASS = 0x7A11
_SUBS_PG = text(
    """SELECT s.id, s.version, s.tps_code, s.contest, s.page, t.dpt,
        (SELECT g FROM generate_series(0, CAST(:top AS integer)) AS g
         WHERE pg_try_advisory_xact_lock(CAST(:lock_class AS integer), g) LIMIT 1) AS shard
    FROM submissions s JOIN tps t ON t.code = s.tps_code WHERE s.id = ANY(:ids)"""
)
_LOCK_HEADS_PG = text(
    """INSERT INTO event_heads (tps_code, contest, event_id, entry_sha256)
    SELECT t, c, 0, '' FROM unnest(CAST(:tps AS varchar[]), CAST(:contests AS varchar[])) AS u(t, c)
    ON CONFLICT (tps_code, contest) DO UPDATE SET tps_code = excluded.tps_code
    RETURNING tps_code, contest, entry_sha256"""
)
# Read, not locked: the event heads locked just before serialise every writer of these rows
# (each acceptance takes its head first), and this statement's snapshot starts after those
# locks were granted, so it sees what the previous holder committed. The rows are written
# once, at the end (`_WRITE_TALLY_PG`): one new row version per TPS instead of two.
_READ_TALLY_PG = text(
    """SELECT t.tps_code, t.contest, t.pages, t."values"
    FROM tally_tps t
    JOIN unnest(CAST(:tps AS varchar[]), CAST(:contests AS varchar[])) AS u(tp, c)
      ON t.tps_code = u.tp AND t.contest = u.c"""
)
_INSERT_EVENTS_PG = text(
    """INSERT INTO audit_events (kind, tps_code, contest, body, entry_sha256, created_at)
    SELECT * FROM unnest(CAST(:kinds AS varchar[]), CAST(:tps AS varchar[]),
                         CAST(:contests AS varchar[]), CAST(:bodies AS bytea[]),
                         CAST(:shas AS varchar[]), CAST(:ats AS timestamptz[]))
    RETURNING id, entry_sha256"""
)
_UPDATE_HEADS_PG = text(
    """UPDATE event_heads h SET event_id = u.id, entry_sha256 = u.sha
    FROM unnest(CAST(:tps AS varchar[]), CAST(:contests AS varchar[]), CAST(:ids AS bigint[]),
                CAST(:shas AS varchar[])) AS u(t, c, id, sha)
    WHERE h.tps_code = u.t AND h.contest = u.c"""
)
_INSERT_ACCEPTANCES_PG = text(
    """INSERT INTO acceptances (tps_code, contest, page, revision, submission_id,
        submission_version, reading_id, source, "values", supersedes, counted, actor, reason,
        event_id, created_at)
    SELECT * FROM unnest(CAST(:tps AS varchar[]), CAST(:contests AS varchar[]),
        CAST(:pages AS smallint[]), CAST(:revisions AS integer[]), CAST(:sids AS varchar[]),
        CAST(:versions AS smallint[]), CAST(:readings AS bigint[]), CAST(:sources AS varchar[]),
        CAST(:vals AS jsonb[]), CAST(:supersedes AS bigint[]), CAST(:counted AS boolean[]),
        CAST(:actors AS varchar[]), CAST(:reasons AS varchar[]), CAST(:events AS bigint[]),
        CAST(:ats AS timestamptz[]))
    RETURNING id, event_id"""
)
_WRITE_TALLY_PG = text(
    """INSERT INTO tally_tps AS t (tps_code, contest, pages, "values", anomalies, anomaly_count,
                                  updated_at)
    SELECT * FROM unnest(CAST(:tps AS varchar[]), CAST(:contests AS varchar[]),
                         CAST(:pages AS jsonb[]), CAST(:vals AS jsonb[]),
                         CAST(:anomalies AS jsonb[]), CAST(:counts AS smallint[]),
                         CAST(:ats AS timestamptz[]))
    ON CONFLICT (tps_code, contest) DO UPDATE SET pages = excluded.pages,
        "values" = excluded."values", anomalies = excluded.anomalies,
        anomaly_count = excluded.anomaly_count, updated_at = excluded.updated_at"""
)


def _safe_int(value: object) -> bool:
    return value is None or (type(value) is int and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER)


def entry_body(
    *,
    kind: str,
    tps_code: str,
    contest: str,
    prev: str | None,
    at: datetime,
    payload: dict[str, Any],
) -> bytes:
    """`canonical_entry`'s exact bytes for an acceptance payload, without its generic walk.

    The walk that proves a value has the fast form (no floats, integers within 2^53, keys in
    the Basic Multilingual Plane) cost as much as the encoding itself; here the only values
    this module did not make itself are checked: the field keys and [old, new] pairs of
    `changes` (old values come from the database) and the two ids. Strings are encoded as
    they come; a lone surrogate, a stray type or anything unchecked takes `canonical_entry`.
    """
    values, changes = payload["values"], payload["changes"]
    plain = (
        _safe_int(payload["reading"])
        and _safe_int(payload["supersedes"])
        and all(k.isascii() for k in values)
        and all(
            type(k) is str and k.isascii() and _safe_int(old) and _safe_int(new)
            for k, (old, new) in changes.items()
        )
    )
    if plain:
        fast = plain_json(entry_envelope(kind, tps_code, contest, prev, at, payload))
        if fast is not None:
            return fast
    return canonical_entry(
        kind=kind, tps_code=tps_code, contest=contest, prev=prev, at=at, payload=payload
    )


def _check_item(item: PageAcceptance, sub: Any) -> None:
    """The refusals of `accept_page`, for one batch item."""
    if item.source not in EVENT_KIND:
        raise Unprocessable(f"unknown source {item.source!r}", "Sumber penerimaan tidak dikenal.")
    if item.source == "corrected" and not (item.reason or "").strip():
        raise Unprocessable("a correction needs a reason", "Koreksi wajib disertai alasan.")
    _validate(item.contest, item.tps_code, item.page, item.values)
    if sub is None:
        raise NotFound(f"no submission {item.submission_id}", "Kiriman foto tidak ditemukan.")
    if (sub.tps_code, sub.contest, sub.page) != (item.tps_code, item.contest, item.page):
        raise Unprocessable(
            f"submission {item.submission_id} is {sub.tps_code}/{sub.contest}/{sub.page}",
            "Kiriman foto ini untuk TPS, jenis pemilihan atau halaman lain.",
        )
    broken = violations(item.values, form_of(item.contest, item.tps_code), sub.dpt)
    if broken and (item.source == "auto" or not (item.reason or "").strip()):
        raise Unprocessable(
            f"values that break {sorted({v.rule for v in broken})} cannot be accepted as "
            f"{item.source} without a reason",
            "Angka yang melanggar aturan konsistensi tidak boleh diterima tanpa alasan.",
        )


async def _accept_round_pg(session: AsyncSession, items: list[PageAcceptance]) -> list[int]:
    sub_rows = (
        await session.execute(
            _SUBS_PG,
            {
                "ids": [i.submission_id for i in items],
                "top": SHARDS - 1,
                "lock_class": SHARD_LOCK_CLASS,
            },
        )
    ).all()
    subs = {r.id: r for r in sub_rows}
    for item in items:
        _check_item(item, subs.get(item.submission_id))
    machine: dict[int, dict[str, Any]] = {}
    wanted = [i.reading_id for i in items if i.reading_id is not None and i.source != "auto"]
    if wanted:
        rows = await session.execute(
            select(Reading.id, Reading.values).where(Reading.id.in_(wanted))
        )
        machine = {rid: vals for rid, vals in rows.all()}
    groups = sorted({(i.tps_code, i.contest) for i in items})
    tps_list, contest_list = [g[0] for g in groups], [g[1] for g in groups]
    lock = {"tps": tps_list, "contests": contest_list}
    heads = {
        (r.tps_code, r.contest): r.entry_sha256
        for r in (await session.execute(_LOCK_HEADS_PG, lock)).all()
    }
    state: dict[tuple[str, str], tuple[dict[str, Any], dict[str, int]]] = {
        g: ({}, {}) for g in groups
    }
    for r in (await session.execute(_READ_TALLY_PG, lock)).all():
        state[(r.tps_code, r.contest)] = (dict(r.pages or {}), dict(r.values or {}))
    first = {g: not state[g][0] for g in groups}
    # Every TPS of the batch in the transaction's shard; all 16 taken (more concurrent
    # transactions than shards): None, each TPS's own shard by its code, as before.
    shard = sub_rows[0].shard if sub_rows and sub_rows[0].shard is not None else None

    # Plan every item in lock order: its event body (chained per TPS and contest), its row.
    at = utcnow()
    order = sorted(range(len(items)), key=lambda n: (items[n].tps_code, items[n].contest, n))
    plans: dict[int, dict[str, Any]] = {}
    for n in order:
        item, sub = items[n], subs[items[n].submission_id]
        g = (item.tps_code, item.contest)
        pages = state[g][0]
        before = pages.get(str(item.page))
        revision = (int(before["revision"]) if before else 0) + 1
        if item.expected_revision is not None and item.expected_revision != revision - 1:
            raise RevisionConflict(
                f"page is at revision {revision - 1}, not {item.expected_revision}",
                extra={"revision": revision - 1},
            )
        counts = before is None or sub.version >= int(before["submission_version"])
        old_page: dict[str, int] = dict(before["values"]) if before and counts else {}
        base = old_page or (machine.get(item.reading_id or -1, {}) if not before else {})
        changes = changes_from(base, item.values)
        body = entry_body(
            kind=EVENT_KIND[item.source],
            tps_code=item.tps_code,
            contest=item.contest,
            prev=heads[g] or None,
            at=at,
            payload={
                "submission": item.submission_id,
                "submission_version": sub.version,
                "page": item.page,
                "reading": item.reading_id,
                "source": item.source,
                "revision": revision,
                "values": dict(sorted(item.values.items())),
                "counted": counts,
                "supersedes": before["event_id"] if before else None,
                "changes": changes,
                "actor": item.actor,
                "reason": item.reason,
            },
        )
        sha = hashlib.sha256(body).hexdigest()
        heads[g] = sha
        plans[n] = {
            "body": body,
            "sha": sha,
            "revision": revision,
            "counts": counts,
            "before": before,
            "old_page": old_page,
            "sub": sub,
        }
        # Later items of this TPS see this one's page as if it were already written.
        entry = {
            "acceptance_id": None,
            "event_id": None,
            "submission_id": item.submission_id,
            "submission_version": sub.version,
            "revision": revision,
            "source": item.source,
            "values": dict(item.values),
        }
        pages[str(item.page)] = entry if counts else {**(before or {}), "revision": revision}
        plans[n]["entry"] = pages[str(item.page)]

    event_rows = await session.execute(
        _INSERT_EVENTS_PG,
        {
            "kinds": [EVENT_KIND[items[n].source] for n in order],
            "tps": [items[n].tps_code for n in order],
            "contests": [items[n].contest for n in order],
            "bodies": [plans[n]["body"] for n in order],
            "shas": [plans[n]["sha"] for n in order],
            "ats": [at] * len(order),
        },
    )
    event_of = {sha: eid for eid, sha in event_rows.all()}
    for n in order:
        plans[n]["event_id"] = event_of[plans[n]["sha"]]
    await session.execute(
        _UPDATE_HEADS_PG,
        {
            "tps": tps_list,
            "contests": contest_list,
            "ids": [event_of[heads[g]] for g in groups],
            "shas": [heads[g] for g in groups],
        },
    )
    acc_rows = await session.execute(
        _INSERT_ACCEPTANCES_PG,
        {
            "tps": [items[n].tps_code for n in order],
            "contests": [items[n].contest for n in order],
            "pages": [items[n].page for n in order],
            "revisions": [plans[n]["revision"] for n in order],
            "sids": [items[n].submission_id for n in order],
            "versions": [plans[n]["sub"].version for n in order],
            "readings": [items[n].reading_id for n in order],
            "sources": [items[n].source for n in order],
            "vals": [jsonio.dumps(items[n].values) for n in order],
            "supersedes": [
                plans[n]["before"]["acceptance_id"] if plans[n]["before"] else None for n in order
            ],
            "counted": [plans[n]["counts"] for n in order],
            "actors": [items[n].actor for n in order],
            "reasons": [items[n].reason for n in order],
            "events": [plans[n]["event_id"] for n in order],
            "ats": [at] * len(order),
        },
    )
    acceptance_of = {eid: aid for aid, eid in acc_rows.all()}
    for n in order:
        if plans[n]["counts"]:
            plans[n]["entry"]["acceptance_id"] = acceptance_of[plans[n]["event_id"]]
            plans[n]["entry"]["event_id"] = plans[n]["event_id"]

    dpt_of: dict[tuple[str, str], int | None] = {}
    counted_in: set[tuple[str, str]] = set()
    for n in order:
        g = (items[n].tps_code, items[n].contest)
        dpt_of.setdefault(g, plans[n]["sub"].dpt)
        if plans[n]["counts"]:
            counted_in.add(g)
    totals = TotalsDelta()
    updates: dict[tuple[str, str], tuple[dict[str, int], list[dict[str, Any]]]] = {}
    for g in groups:
        pages, _ = state[g]
        merged: dict[str, int] = {}
        for entry in pages.values():
            merged.update(entry["values"])
        updates[g] = (merged, anomalies_of(g[1], g[0], merged, dpt_of[g]))
        delta: dict[str, int] = defaultdict(int)
        for k, v in merged.items():
            delta[k] += v
        for k, v in state[g][1].items():
            delta[k] -= v
        if first[g] and pages and g in counted_in:
            delta[TPS_KEY] += 1
        totals.add(g[1], g[0], delta, shard)
    await session.execute(
        _WRITE_TALLY_PG,
        {
            "tps": tps_list,
            "contests": contest_list,
            "pages": [jsonio.dumps(state[g][0]) for g in groups],
            "vals": [jsonio.dumps(updates[g][0]) for g in groups],
            "anomalies": [jsonio.dumps(updates[g][1]) for g in groups],
            "counts": [len(updates[g][1]) for g in groups],
            "ats": [at] * len(groups),
        },
    )
    await apply_totals(session, totals)
    return [plans[n]["event_id"] for n in range(len(items))]


__all__ = [
    "EVENT_KIND",
    "SHARDS",
    "SHARD_LOCK_CLASS",
    "PageAcceptance",
    "RevisionConflict",
    "Scope",
    "Source",
    "TotalsDelta",
    "accept_page",
    "accept_pages",
    "add_sums",
    "add_to_totals",
    "anomalies_of",
    "apply_totals",
    "changes_from",
    "dapil_of",
    "dialect_of",
    "entry_body",
    "form_of",
    "lock_event_head",
    "region_chain",
    "scopes_of",
    "shard_of",
    "violations",
]
