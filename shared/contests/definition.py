"""What a contest's C.Hasil form holds: its fields in print order, sections and pages.

``definition(contest, tps_code)`` is the one entry point. It is deterministic (same inputs, same
object), cheap and cached, so the reader, the tally service and the audit verifier can all call
it per photo. Field values travel everywhere as plain ``dict[str, int]`` keyed by ``FieldDef.key``.

Pagination lives here rather than in the layout because the page of a field is part of the
contest's data (the reader needs it to know which page holds which field); the layout only
turns (page, column, row) into millimetres.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache

from shared.contests.candidates import Candidate, caleg, dpd_candidates
from shared.contests.codes import Contest
from shared.contests.dapil import check_tps_code, dapil_code
from shared.contests.parties import PARTIES, PASLON, Party

BOXES = 3  # hundreds, tens, units: no TPS has more than 300 voters (+2% reserve)
COLUMNS = 2  # field columns per printed page
COLUMN_ROWS = 18  # rows per column; shared.forms.layout sizes rows to fit exactly this many

SEXES = (("l", "Laki-laki", "men"), ("p", "Perempuan", "women"), ("j", "Jumlah", "total"))

# (key prefix, label_id, label_en): the voter rows of the administrasi section, Sirekap's keys.
VOTER_ROWS: tuple[tuple[str, str, str], ...] = (
    ("pemilih_dpt", "Pemilih DPT", "Voters on the DPT"),
    ("pemilih_dptb", "Pemilih DPTb", "Voters on the DPTb"),
    ("pemilih_dpk", "Pemilih DPK", "Voters on the DPK"),
    ("pengguna_dpt", "Pengguna hak pilih DPT", "DPT voters who voted"),
    ("pengguna_dptb", "Pengguna hak pilih DPTb", "DPTb voters who voted"),
    ("pengguna_non_dpt", "Pengguna hak pilih DPK", "DPK voters who voted"),
    ("pengguna_total", "Jumlah pengguna hak pilih", "Total voters who voted"),
)
BALLOT_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("surat_suara_diterima", "Surat suara diterima", "Ballot papers received"),
    (
        "surat_suara_dikembalikan",
        "Surat suara rusak/keliru coblos",
        "Ballots returned: damaged or wrongly marked",
    ),
    ("surat_suara_tidak_digunakan", "Surat suara tidak digunakan", "Ballot papers unused"),
    ("surat_suara_digunakan", "Surat suara digunakan", "Ballot papers used"),
)
TOTAL_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("suara_sah", "Jumlah suara sah", "Total valid votes"),
    ("suara_tidak_sah", "Jumlah suara tidak sah", "Invalid votes"),
    ("suara_total", "Jumlah suara sah dan tidak sah", "Valid and invalid votes"),
)


@dataclass(frozen=True, slots=True)
class FieldDef:
    """One handwritten number on the form.

    ``kind`` says what the number is: ``voters``, ``ballots``, ``votes`` (a candidate, paslon or
    party-only count), ``party_total`` or ``total``. ``page`` counts from 1; ``column`` and
    ``row`` place it on the page (see ``shared.forms.layout``).
    """

    key: str
    label_id: str
    label_en: str
    kind: str
    page: int
    column: int
    row: int
    boxes: int = BOXES


@dataclass(frozen=True, slots=True)
class Section:
    """A titled block of fields that is never split across columns."""

    key: str
    title_id: str
    title_en: str
    fields: tuple[str, ...]
    page: int
    column: int
    row: int  # the title's row; fields follow on the next rows


@dataclass(frozen=True, slots=True)
class PartyList:
    party: Party
    candidates: tuple[Candidate, ...]

    @property
    def votes_key(self) -> str:
        """Votes for the party itself (ballot marked on the party, not a candidate)."""
        return f"partai_{self.party.number:02d}_suara"

    @property
    def total_key(self) -> str:
        return f"partai_{self.party.number:02d}_total"


@dataclass(frozen=True)
class ContestDefinition:
    contest: Contest
    tps_code: str
    dapil: str
    fields: tuple[FieldDef, ...]
    sections: tuple[Section, ...]
    pages: int
    candidates: tuple[Candidate, ...]  # paslon, DPD candidates, or every caleg in party order
    parties: tuple[PartyList, ...]  # empty for PPWP and DPD

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.fields)

    @cached_property
    def _by_key(self) -> dict[str, FieldDef]:
        return {f.key: f for f in self.fields}

    def field(self, key: str) -> FieldDef:
        """The field named ``key``; KeyError if the form has no such field."""
        return self._by_key[key]

    def page_fields(self, page: int) -> tuple[FieldDef, ...]:
        return tuple(f for f in self.fields if f.page == page)

    def page_sections(self, page: int) -> tuple[Section, ...]:
        return tuple(s for s in self.sections if s.page == page)

    @property
    def vote_keys(self) -> tuple[str, ...]:
        """The fields whose sum is ``suara_sah``: paslon/DPD votes, or party totals."""
        if self.parties:
            return tuple(p.total_key for p in self.parties)
        return tuple(c.field_key for c in self.candidates)


# A section before pagination: key, titles, and its (key, label_id, label_en, kind) rows.
_Row = tuple[str, str, str, str]
_Draft = tuple[str, str, str, list[_Row]]


def _admin_sections() -> list[_Draft]:
    voters: list[_Row] = [
        (f"{prefix}_{s}", f"{lid} - {sid}", f"{len_} - {sen}", "voters")
        for prefix, lid, len_ in VOTER_ROWS
        for s, sid, sen in SEXES
    ]
    half = 3 * 4  # the four "pemilih" rows, then the three "pengguna" rows
    ballots: list[_Row] = [(k, lid, len_, "ballots") for k, lid, len_ in BALLOT_FIELDS]
    return [
        ("pemilih", "I.A Data pemilih", "Voters on the lists", voters[:half]),
        ("pengguna", "I.B Pengguna hak pilih", "Voters who voted", voters[half:]),
        ("surat_suara", "II. Data penggunaan surat suara", "Ballot papers", ballots),
    ]


def _totals_section(number: str) -> _Draft:
    rows: list[_Row] = [(k, lid, len_, "total") for k, lid, len_ in TOTAL_FIELDS]
    return ("jumlah", f"{number} Jumlah suara", "Vote totals", rows)


def _paginate(pages: Iterable[list[_Draft]]) -> tuple[list[FieldDef], list[Section], int]:
    """Flow sections into columns of COLUMN_ROWS rows; each list in ``pages`` starts a page."""
    fields: list[FieldDef] = []
    sections: list[Section] = []
    page = 0
    for drafts in pages:
        page, column, row = page + 1, 0, 0
        for key, tid, ten, rows in drafts:
            need = 1 + len(rows)
            if need > COLUMN_ROWS:
                raise ValueError(f"section {key} has {need} rows; a column holds {COLUMN_ROWS}")
            if row + need > COLUMN_ROWS:
                column, row = column + 1, 0
                if column == COLUMNS:
                    page, column = page + 1, 0
            sections.append(Section(key, tid, ten, tuple(r[0] for r in rows), page, column, row))
            for i, (fkey, lid, len_, kind) in enumerate(rows):
                fields.append(FieldDef(fkey, lid, len_, kind, page, column, row + 1 + i))
            row += need
    return fields, sections, page


def _party_draft(plist: PartyList) -> _Draft:
    p = plist.party
    rows: list[_Row] = [(plist.votes_key, "Suara partai", "Votes for the party", "votes")]
    rows += [
        (c.field_key, f"{c.number}. {c.name}", f"Candidate {c.number}", "votes")
        for c in plist.candidates
    ]
    rows.append((plist.total_key, "Jumlah suara partai + calon", "Party total", "party_total"))
    return (
        f"partai_{p.number:02d}",
        f"{p.number}. {p.name}",
        f"Party {p.number} ({p.short})",
        rows,
    )


@lru_cache(maxsize=1024)
def definition(contest: Contest | str, tps_code: str) -> ContestDefinition:
    """The C.Hasil form of ``contest`` at ``tps_code``: fields in print order, pages, candidates.

    Page 1 is always the administrasi page (voters and ballot papers); the votes follow.
    """
    contest = Contest(contest)
    check_tps_code(tps_code)
    dapil = dapil_code(contest, tps_code)
    parties: tuple[PartyList, ...] = ()
    vote_pages: list[_Draft]
    if contest is Contest.PPWP:
        candidates = tuple(Candidate(p.id, p.number, p.names, None, p.id) for p in PASLON)
        rows: list[_Row] = [
            (c.field_key, f"{c.number:02d}. {c.name}", f"Pair {c.number:02d}", "votes")
            for c in candidates
        ]
        vote_pages = [("paslon", "III. Perolehan suara pasangan calon", "Votes per ticket", rows)]
    elif contest is Contest.DPD:
        candidates = dpd_candidates(dapil)
        # DPD lists run to 20 names: split so no section exceeds a column.
        chunks = [candidates[i : i + COLUMN_ROWS - 1] for i in range(0, len(candidates), 17)]
        vote_pages = [
            (
                f"calon_{n + 1}",
                "III. Perolehan suara calon anggota DPD",
                "Votes per DPD candidate",
                [
                    (c.field_key, f"{c.number}. {c.name}", f"Candidate {c.number}", "votes")
                    for c in chunk
                ],
            )
            for n, chunk in enumerate(chunks)
        ]
    else:
        parties = tuple(PartyList(p, caleg(dapil, p.number)) for p in PARTIES)
        candidates = tuple(c for pl in parties for c in pl.candidates)
        vote_pages = [_party_draft(pl) for pl in parties]
    vote_pages.append(_totals_section("IV."))
    fields, sections, pages = _paginate([_admin_sections(), vote_pages])
    return ContestDefinition(
        contest=contest,
        tps_code=tps_code,
        dapil=dapil,
        fields=tuple(fields),
        sections=tuple(sections),
        pages=pages,
        candidates=candidates,
        parties=parties,
    )
