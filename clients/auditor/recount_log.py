"""Recount every published total from the log alone, and compare it with what the tally serves.

`LogRecount` is the `Recount` hook (`clients.auditor.recount`) that `sirekap audit verify` sets
by default. It reads nothing but log entries:

- photo entries (`kind` "photo": TPS, contest, page, `version`, `sha256`);
- reading entries (`kind` "reading": the `reading` id the acceptances cite);
- acceptance entries (`kind` "acceptance", "confirmation", "correction"; written by
  `shared.acceptance`): the page's accepted `values`, the `submission_version` of the photo
  they read, their `revision`, the `supersedes` they cite and the `changes` they make;
- dispute entries (`kind` "dispute", `services/tally/review/kpps.py`): the revision disputed.

Per (TPS, contest, page) the value that counts is the acceptance with the highest submission
version, the latest in log order among equals: the rule of `shared.acceptance` and
`services.tally.results.recompute`. Sums go up TPS → desa → kecamatan → kabupaten → provinsi →
nasional (codes derived from the 13-digit TPS code) and per dapil, with `_tps` counting the TPS
that have at least one counted page, and are compared with:

- `GET /api/v1/regions/{dotted code}/totals?contest=C`: `totals` and `progress.reported`;
- `GET /api/v1/regions/{dotted code}?contest=C`: each child's (region's or TPS's) numbers;
- `GET /api/v1/dapil/{dapil}?contest=C` for every contest but PPWP;
- for PPWP, Sirekap's public JSON: each region's `chart` and `progres`, the `table` of its
  children (which also shows a child that the log knows nothing about), and each TPS's
  `chart`, `administrasi`, `status_*` and `images` (the photo of the counted version).

A difference is reported against the region (`region:<dotted code>`), the TPS
(`tps:<13-digit code>`) or the dapil (`dapil:<code>`) whose published numbers differ. The
citations are checked on the way: every acceptance cites a photo entry of its TPS, contest and
page (by version) and any reading it names; its revision follows the page's previous
acceptances with none missing; `supersedes` is set exactly when an earlier acceptance of the
page exists and names the one that counted; a correction's old values are the ones that
counted; the `counted` flag follows the rule above; a dispute names the current revision.
See docs/audit-log.md for the list of checks.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from clients.auditor.client import LogClient
from clients.auditor.findings import Finding, Report
from shared.contests import Contest, dapil_code, definition
from shared.contests.public_json import ADMIN_KINDS, ADMINISTRASI

ACCEPTANCE_KINDS = frozenset({"acceptance", "confirmation", "correction"})
TPS_KEY = "_tps"  # the tally's count of TPS with at least one counted page
PPWP = Contest.PPWP.value
PASLON_IDS = ("100025", "100026", "100027")  # Sirekap's ids of paslon 01, 02, 03
# Requests in flight at once: enough to hide latency, few enough not to load the service.
CONCURRENCY = 8

PageKey = tuple[str, str, int]  # TPS, contest, page


def region_chain(tps: str) -> list[str]:
    """`1708042001003` → ["00", "17", "17.08", "17.08.04", "17.08.04.2001"] (dotted codes)."""
    return [
        "00",
        tps[:2],
        f"{tps[:2]}.{tps[2:4]}",
        f"{tps[:2]}.{tps[2:4]}.{tps[4:6]}",
        f"{tps[:2]}.{tps[2:4]}.{tps[4:6]}.{tps[6:10]}",
    ]


def sirekap_path(code: str) -> str:
    """The public JSON path of a region (dotted) or TPS (13 digits)."""
    if code == "00":
        return "/pemilu/hhcw/ppwp.json"
    digits = code.replace(".", "")
    parts = [digits[:n] for n in (2, 4, 6, 10, 13) if n <= len(digits)]
    return "/pemilu/hhcw/ppwp/" + "/".join(parts) + ".json"


def _dotted(compact: str) -> str:
    cuts = [c for c in (2, 4, 6) if c < len(compact)]
    parts, start = [], 0
    for c in [*cuts, len(compact)]:
        parts.append(compact[start:c])
        start = c
    return ".".join(parts)


@dataclass
class _Counted:
    version: int
    index: int
    values: dict[str, int]
    event_id: int | None = None  # its database id, learnt from the first entry that cites it


@dataclass
class _Page:
    photos: dict[int, tuple[int, str]] = field(default_factory=dict)  # version → index, sha256
    readings: set[int] = field(default_factory=set)
    acceptances: int = 0
    counted: _Counted | None = None


@dataclass
class LogRecount:
    """The default `Recount`: see the module docstring."""

    concurrency: int = CONCURRENCY
    pages: dict[PageKey, _Page] = field(default_factory=lambda: defaultdict(_Page))
    _cited: dict[int, int] = field(default_factory=dict)  # database event id → log index
    # What the entries themselves show (citations), reported by `check`.
    problems: list[Finding] = field(default_factory=list)
    regions_checked: int = 0
    tps_checked: int = 0

    # ---- from the log ----

    def observe(self, index: int, entry: dict[str, Any]) -> None:
        kind = entry.get("kind")
        if kind == "photo":
            self._photo(index, entry)
        elif kind == "reading":
            self._reading(entry)
        elif kind in ACCEPTANCE_KINDS:
            self._acceptance(index, entry)
        elif kind == "dispute":
            self._dispute(index, entry)

    def _flag(self, culprit: str, check: str, detail: str, index: int | None) -> None:
        self.problems.append(Finding(culprit, check, detail, index))

    @staticmethod
    def _key(entry: dict[str, Any]) -> PageKey | None:
        tps, contest, page = entry.get("tps"), entry.get("contest"), entry.get("page")
        if not isinstance(tps, str) or len(tps) != 13 or not tps.isdigit():
            return None
        if not isinstance(contest, str) or type(page) is not int:
            return None
        return tps, contest, page

    def _photo(self, index: int, entry: dict[str, Any]) -> None:
        key, version, sha = self._key(entry), entry.get("version"), entry.get("sha256")
        if key is None or type(version) is not int or not isinstance(sha, str):
            self._flag("log", "malformed-photo-entry", "no TPS, contest, page or version", index)
            return
        page = self.pages[key]
        if version in page.photos:
            self._flag(f"tps:{key[0]}", "duplicate-photo-version", f"{key}: v{version}", index)
        page.photos[version] = (index, sha)

    def _reading(self, entry: dict[str, Any]) -> None:
        key, reading = self._key(entry), entry.get("reading")
        if key is not None and type(reading) is int:
            self.pages[key].readings.add(reading)

    def _acceptance(self, index: int, entry: dict[str, Any]) -> None:
        key = self._key(entry)
        values = entry.get("values")
        version, revision = entry.get("submission_version"), entry.get("revision")
        if (
            key is None
            or type(version) is not int
            or type(revision) is not int
            or not isinstance(values, dict)
            or not all(isinstance(k, str) and type(v) is int for k, v in values.items())
        ):
            self._flag("log", "malformed-acceptance", "missing or bad field", index)
            return
        tps, contest, page_no = key
        culprit, where = f"tps:{tps}", f"{contest} page {page_no}"
        page = self.pages[key]
        if version not in page.photos:
            self._flag(culprit, "acceptance-without-photo", f"{where}: no photo v{version}", index)
        reading = entry.get("reading")
        if reading is not None and reading not in page.readings:
            self._flag(culprit, "unknown-reading", f"{where}: cites reading {reading}", index)
        if revision != page.acceptances + 1:
            self._flag(
                culprit,
                "revision-gap",
                f"{where}: revision {revision} after {page.acceptances} logged acceptances",
                index,
            )
        self._check_supersedes(entry, page, culprit, where, index)
        before = page.counted
        counts = before is None or version >= before.version
        if entry.get("counted") is not counts:
            self._flag(
                culprit, "counted-flag", f"{where}: says counted={entry.get('counted')}", index
            )
        if entry.get("kind") == "correction":
            self._check_correction(entry, page, culprit, where, index)
        page.acceptances += 1
        if counts:
            page.counted = _Counted(version, index, dict(values))

    def _check_supersedes(
        self, entry: dict[str, Any], page: _Page, culprit: str, where: str, index: int
    ) -> None:
        self._check_cites(entry.get("supersedes"), page, culprit, where, index, "supersedes")

    def _check_cites(
        self, cited: Any, page: _Page, culprit: str, where: str, index: int, name: str
    ) -> None:
        """`cited` (an acceptance's `supersedes`, a dispute's `disputes`) must name the page's
        counted acceptance, and be None when the page has none."""
        if page.acceptances == 0:
            if cited is not None:
                self._flag(culprit, f"{name}-nothing", f"{where}: cites {cited} first", index)
            return
        if type(cited) is not int:
            self._flag(culprit, f"{name}-missing", f"{where}: cites no earlier one", index)
            return
        counted = page.counted
        assert counted is not None  # acceptances > 0 and the first always counts
        # The log holds database ids only as citations: learn each from its first citation,
        # then every later citation must agree, and one id names one entry.
        if counted.event_id is None:
            known = self._cited.get(cited)
            if known is not None and known != counted.index:
                self._flag(
                    culprit, f"{name}-mismatch", f"{where}: {cited} names entry {known}", index
                )
                return
            counted.event_id = cited
            self._cited[cited] = counted.index
        elif counted.event_id != cited:
            self._flag(
                culprit,
                f"{name}-mismatch",
                f"{where}: cites {cited}, the counted acceptance (entry {counted.index}) "
                f"was cited as {counted.event_id}",
                index,
            )

    def _dispute(self, index: int, entry: dict[str, Any]) -> None:
        """A KPPS disputes the page as it stands: at its current revision, citing what counts
        (`services/tally/review/kpps.py`). It changes no number."""
        key, revision = self._key(entry), entry.get("revision")
        if key is None or type(revision) is not int:
            self._flag("log", "malformed-dispute", "missing or bad field", index)
            return
        page = self.pages[key]
        culprit, where = f"tps:{key[0]}", f"{key[1]} page {key[2]}"
        if revision != page.acceptances:
            self._flag(
                culprit,
                "dispute-revision",
                f"{where}: disputes revision {revision} after {page.acceptances} acceptances",
                index,
            )
        self._check_cites(entry.get("disputes"), page, culprit, where, index, "disputes")

    def _check_correction(
        self, entry: dict[str, Any], page: _Page, culprit: str, where: str, index: int
    ) -> None:
        if (
            page.acceptances == 0
            and entry.get("reading") is None
            and entry.get("submission_version") not in page.photos
        ):
            # A first correction corrects the machine's reading, or (no reading: the officer
            # typed the numbers) stands on its photo; with neither it corrects nothing logged.
            self._flag(culprit, "correction-cites-nothing", f"{where}: no earlier entry", index)
        changes = entry.get("changes")
        counted = page.counted
        if counted is None or not isinstance(changes, dict):
            return
        if type(entry.get("submission_version")) is int and entry["submission_version"] < (
            counted.version
        ):
            return  # an older photo's acceptance replaces nothing that counts
        wrong = sorted(
            k
            for k, change in changes.items()
            if not isinstance(change, list) or not change or change[0] != counted.values.get(k)
        )
        if wrong:
            self._flag(
                culprit,
                "correction-old-values",
                f"{where}: old values of {wrong} are not the ones counted (entry {counted.index})",
                index,
            )

    # ---- the recount ----

    def tps_values(self) -> dict[tuple[str, str], dict[str, int]]:
        """Per (TPS, contest), the values that count, every page merged."""
        out: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
        for (tps, contest, _), page in sorted(self.pages.items()):
            if page.counted is not None:
                out[(tps, contest)].update(page.counted.values)
        return dict(out)

    def region_totals(self) -> dict[tuple[str, str], dict[str, int]]:
        """Per (dotted region code, contest), the sum of every field, and `_tps`."""
        totals: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for (tps, contest), values in self.tps_values().items():
            for region in region_chain(tps):
                sums = totals[(region, contest)]
                sums[TPS_KEY] += 1
                for k, v in values.items():
                    sums[k] += v
        return {k: dict(v) for k, v in totals.items()}

    def dapil_totals(self) -> dict[tuple[str, str], dict[str, int]]:
        """Per (dapil, contest), the same sums for every contest but PPWP (whose dapil is the
        nation); `_tps` as above."""
        totals: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for (tps, contest), values in self.tps_values().items():
            if contest == PPWP:
                continue
            try:
                dapil = dapil_code(Contest(contest), tps)
            except (ValueError, KeyError):
                continue  # an unknown contest: its region totals are still compared
            sums = totals[(dapil, contest)]
            sums[TPS_KEY] += 1
            for k, v in values.items():
                sums[k] += v
        return {k: dict(v) for k, v in totals.items()}

    async def check(self, client: LogClient, report: Report) -> None:
        for f in self.problems:
            report.add(f.culprit, f.check, f.detail, f.index)
        totals = self.region_totals()
        tps_values = self.tps_values()
        contests = sorted({c for _, c in totals} | {PPWP})
        regions = sorted({r for r, _ in totals} | {"00"})
        jobs: list[Callable[[], Awaitable[None]]] = []
        sink = Report(report.url, max_per_check=report.max_per_check)
        for region in regions:
            for contest in contests:
                expected = totals.get((region, contest), {})
                jobs.append(self._job(self._api_totals, client, sink, region, contest, expected))
                jobs.append(
                    self._job(self._api_children, client, sink, region, contest, totals, tps_values)
                )
            jobs.append(self._job(self._sirekap_region, client, sink, region, totals, tps_values))
        for (dapil, contest), expected in sorted(self.dapil_totals().items()):
            jobs.append(self._job(self._api_dapil, client, sink, dapil, contest, expected))
        for tps in sorted({t for t, c in tps_values if c == PPWP}):
            jobs.append(self._job(self._sirekap_tps, client, sink, tps, tps_values))
        jobs.append(self._job(self._export, client, sink, tps_values))
        pending = iter(jobs)

        async def worker() -> None:  # a few workers share one iterator: bounded in flight
            for job in pending:
                await job()

        await asyncio.gather(*(worker() for _ in range(max(1, self.concurrency))))
        # Requests finish in any order; the report lists findings in a stable one.
        for f in sorted(sink.findings, key=lambda f: (f.culprit, f.check, f.detail)):
            report.add(f.culprit, f.check, f.detail, f.index)
        for check, count in sink.suppressed.items():
            report.suppressed[check] += count
        report.totals_compared += self.regions_checked
        report.tps_compared += self.tps_checked

    @staticmethod
    def _job(fn: Callable[..., Awaitable[None]], *args: Any) -> Callable[[], Awaitable[None]]:
        return lambda: fn(*args)

    @staticmethod
    async def _get(client: LogClient, report: Report, culprit: str, url: str, **params: str) -> Any:
        try:
            r = await client.http.get(url, params=params or None)
        except httpx.HTTPError as exc:
            report.add(culprit, "totals-unavailable", f"{url}: {exc}")
            return None
        if r.status_code != 200:
            report.add(culprit, "totals-unavailable", f"{url}: HTTP {r.status_code}")
            return None
        try:
            return r.json()
        except ValueError:
            report.add(culprit, "totals-unavailable", f"{url}: not JSON")
            return None

    async def _api_totals(
        self,
        client: LogClient,
        report: Report,
        region: str,
        contest: str,
        expected: dict[str, int],
    ) -> None:
        culprit = f"region:{region}"
        data = await self._get(
            client, report, culprit, f"/api/v1/regions/{region}/totals", contest=contest
        )
        if data is None:
            return
        self.regions_checked += 1
        try:
            published = {str(k): int(v) for k, v in dict(data["totals"]).items()}
            published[TPS_KEY] = int(data["progress"]["reported"])
        except (KeyError, TypeError, ValueError) as exc:
            report.add(culprit, "totals-unreadable", f"{contest}: {exc}")
            return
        _compare_totals(report, culprit, contest, published, expected)

    async def _api_children(
        self,
        client: LogClient,
        report: Report,
        region: str,
        contest: str,
        totals: dict[tuple[str, str], dict[str, int]],
        tps_values: dict[tuple[str, str], dict[str, int]],
    ) -> None:
        """A region's view lists its children (regions, or a desa's TPS) with their summary
        numbers: a child the log knows nothing about must show zeros."""
        data = await self._get(
            client, report, f"region:{region}", f"/api/v1/regions/{region}", contest=contest
        )
        if not isinstance(data, dict):
            return
        for child in data.get("children") or []:
            if not isinstance(child, dict):
                continue
            code = str(child.get("code"))
            if child.get("kind") == "tps":
                culprit, values = f"tps:{code}", tps_values.get((code, contest))
                want = dict(values or {})
                want[TPS_KEY] = 0 if values is None else 1
            else:
                culprit, want = f"region:{code}", totals.get((code, contest), {})
            got = dict(child.get("totals") or {})
            got[TPS_KEY] = (child.get("progress") or {}).get("reported")
            wrong = [k for k in sorted(got) if got[k] != want.get(k, 0)]
            if wrong:
                report.add(
                    culprit,
                    "child-total-mismatch",
                    f"{contest} in the view of {region}: "
                    + ", ".join(
                        f"{k} published {got[k]}, recounted {want.get(k, 0)}" for k in wrong
                    ),
                )

    async def _api_dapil(
        self,
        client: LogClient,
        report: Report,
        dapil: str,
        contest: str,
        expected: dict[str, int],
    ) -> None:
        culprit = f"dapil:{dapil}"
        data = await self._get(client, report, culprit, f"/api/v1/dapil/{dapil}", contest=contest)
        if data is None:
            return
        try:
            published = {str(k): int(v) for k, v in dict(data["totals"]).items()}
            published[TPS_KEY] = int(data["reported_tps"])
        except (KeyError, TypeError, ValueError) as exc:
            report.add(culprit, "totals-unreadable", f"{contest}: {exc}")
            return
        _compare_totals(report, culprit, contest, published, expected)

    async def _export(
        self,
        client: LogClient,
        report: Report,
        tps_values: dict[tuple[str, str], dict[str, int]],
    ) -> None:
        """The bulk export holds every field of every TPS and contest, each page's revision and
        the database id of the acceptance that counts: all of it must match the log."""
        url = "/api/v1/export/results.jsonl"
        seen: set[tuple[str, str]] = set()
        try:
            # As it is now: the tally (or a CDN) may otherwise serve a copy up to a minute old,
            # which would miss the pages counted since and report them as not exported.
            async with client.http.stream("GET", url, headers={"Cache-Control": "no-cache"}) as r:
                if r.status_code != 200:
                    report.add("tally", "totals-unavailable", f"{url}: HTTP {r.status_code}")
                    return
                async for line in r.aiter_lines():
                    if line.strip():
                        self._export_row(report, line, tps_values, seen)
        except httpx.HTTPError as exc:
            report.add("tally", "totals-unavailable", f"{url}: {exc}")
            return
        for tps, contest in sorted(set(tps_values) - seen):
            report.add(
                f"tps:{tps}", "export-missing", f"{contest}: counted in the log, not exported"
            )

    def _export_row(
        self,
        report: Report,
        line: str,
        tps_values: dict[tuple[str, str], dict[str, int]],
        seen: set[tuple[str, str]],
    ) -> None:
        try:
            row = json.loads(line)
            tps, contest = str(row["tps"]), str(row["contest"])
            values = {str(k): v for k, v in dict(row["values"]).items()}
            pages = {int(p): dict(e) for p, e in dict(row.get("pages") or {}).items()}
        except (ValueError, KeyError, TypeError) as exc:
            report.add("tally", "export-unreadable", f"{line[:80]}: {exc}")
            return
        seen.add((tps, contest))
        culprit = f"tps:{tps}"
        want = tps_values.get((tps, contest), {})
        if values != want:
            report.add(culprit, "export-mismatch", f"{contest}: {_diff('values', values, want)}")
        for number, entry in sorted(pages.items()):
            page = self.pages.get((tps, contest, number))
            logged = page.acceptances if page is not None else 0
            if entry.get("revision") != logged:
                report.add(
                    culprit,
                    "export-mismatch",
                    f"{contest} page {number}: revision {entry.get('revision')}, "
                    f"{logged} acceptances logged",
                )
            counted = page.counted if page is not None else None
            if counted is not None and counted.event_id not in (None, entry.get("event_id")):
                report.add(
                    culprit,
                    "export-mismatch",
                    f"{contest} page {number}: counts event {entry.get('event_id')}, the log's "
                    f"citations name entry {counted.index} as {counted.event_id}",
                )

    async def _sirekap_region(
        self,
        client: LogClient,
        report: Report,
        region: str,
        totals: dict[tuple[str, str], dict[str, int]],
        tps_values: dict[tuple[str, str], dict[str, int]],
    ) -> None:
        culprit = f"region:{region}"
        data = await self._get(client, report, culprit, sirekap_path(region))
        if not isinstance(data, dict):
            return
        mine = totals.get((region, PPWP), {})
        chart = data.get("chart") or {}
        for pid in PASLON_IDS:
            if chart.get(pid) != mine.get(pid, 0):
                report.add(
                    culprit,
                    "sirekap-chart-mismatch",
                    f"chart {pid}: published {chart.get(pid)}, recounted {mine.get(pid, 0)}",
                )
        progres = (data.get("progres") or {}).get("progres")
        if progres != mine.get(TPS_KEY, 0):
            report.add(
                culprit,
                "sirekap-progress-mismatch",
                f"progres: published {progres}, recounted {mine.get(TPS_KEY, 0)} TPS",
            )
        if region.count(".") == 3:
            self._desa_table(report, data, tps_values)
            return
        for child, row in sorted((data.get("table") or {}).items()):
            sums = totals.get((_dotted(child), PPWP), {})
            done = sums.get(TPS_KEY, 0) > 0
            want = {pid: (sums.get(pid, 0) if done else None) for pid in PASLON_IDS}
            self._compare_row(report, f"region:{_dotted(child)}", row, want)

    def _desa_table(
        self,
        report: Report,
        data: dict[str, Any],
        tps_values: dict[tuple[str, str], dict[str, int]],
    ) -> None:
        """A desa's table lists its TPS, each with its counted values (None before any)."""
        for tps, row in sorted((data.get("table") or {}).items()):
            values = tps_values.get((tps, PPWP), {})
            has = any(pid in values for pid in PASLON_IDS)
            want = {pid: (values.get(pid) if has else None) for pid in PASLON_IDS}
            self._compare_row(report, f"tps:{tps}", row, want)

    @staticmethod
    def _compare_row(report: Report, culprit: str, row: Any, want: dict[str, int | None]) -> None:
        got = {pid: row.get(pid) for pid in PASLON_IDS} if isinstance(row, dict) else None
        if got != want:
            report.add(
                culprit,
                "sirekap-table-mismatch",
                f"parent's table shows {got}, recounted {want}",
            )

    async def _sirekap_tps(
        self,
        client: LogClient,
        report: Report,
        tps: str,
        tps_values: dict[tuple[str, str], dict[str, int]],
    ) -> None:
        culprit = f"tps:{tps}"
        data = await self._get(client, report, culprit, sirekap_path(tps))
        if not isinstance(data, dict):
            return
        self.tps_checked += 1
        values = tps_values.get((tps, PPWP), {})
        form = definition(PPWP, tps)
        counted = set()
        for p in range(1, form.pages + 1):
            page = self.pages.get((tps, PPWP, p))
            if page is not None and page.counted is not None:
                counted.add(p)
        admin_pages = {f.page for f in form.fields if f.kind in ADMIN_KINDS}
        vote_pages = {f.page for f in form.fields if f.kind not in ADMIN_KINDS}
        status_adm, status_suara = admin_pages <= counted, vote_pages <= counted
        want_chart = (
            {"null": None, **{pid: values.get(pid) for pid in PASLON_IDS}} if status_suara else None
        )
        want_admin = (
            {k: values.get(k) for k in ADMINISTRASI} if status_adm or status_suara else None
        )
        for name, got, want in (
            ("chart", data.get("chart"), want_chart),
            ("administrasi", data.get("administrasi"), want_admin),
            ("status_suara", data.get("status_suara"), status_suara),
            ("status_adm", data.get("status_adm"), status_adm),
        ):
            if got != want:
                report.add(culprit, "sirekap-tps-mismatch", _diff(name, got, want))
        self._check_images(report, culprit, tps, form.pages, data.get("images"))

    def _check_images(
        self, report: Report, culprit: str, tps: str, pages: int, images: Any
    ) -> None:
        """Each page's image is the photo of the counted version (else the newest photo)."""
        want: list[str | None] = []
        for p in range(1, pages + 1):
            page = self.pages.get((tps, PPWP, p))
            if page is None or not page.photos:
                want.append(None)
                continue
            version = page.counted.version if page.counted else max(page.photos)
            want.append(page.photos[version][1] if version in page.photos else None)
        got = list(images) if isinstance(images, list) else None
        shown = [str(u).rsplit("/", 1)[-1] if u else None for u in got] if got else got
        if shown != want:
            report.add(
                culprit,
                "sirekap-image-mismatch",
                f"images show {shown}, the log's counted photos are {want}",
            )


def _diff(name: str, got: Any, want: Any) -> str:
    if isinstance(got, dict) and isinstance(want, dict):
        keys: Iterable[str] = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
        shown = ", ".join(f"{k}: published {got.get(k)}, recounted {want.get(k)}" for k in keys)
        return f"{name}: {shown}"
    return f"{name}: published {got}, recounted {want}"


__all__ = ["LogRecount", "region_chain", "sirekap_path"]


def _compare_totals(
    report: Report,
    culprit: str,
    contest: str,
    published: dict[str, int],
    expected: dict[str, int],
) -> None:
    """One finding per field whose published total differs from the recount (absent = 0)."""
    for key in sorted(set(published) | set(expected)):
        got, want = published.get(key, 0), expected.get(key, 0)
        if got != want:
            report.add(
                culprit,
                "total-mismatch",
                f"{contest} {key}: published {got}, recounted from the log {want}",
            )
