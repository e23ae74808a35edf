"""The five contests (races) every TPS counts, and their printed names."""

from __future__ import annotations

from enum import StrEnum


class Contest(StrEnum):
    """A contest code, as used in URLs, form markers and the database."""

    PPWP = "PPWP"
    DPR = "DPR"
    DPD = "DPD"
    DPRD_PROV = "DPRD_PROV"
    DPRD_KABKOTA = "DPRD_KABKOTA"

    @property
    def ordinal(self) -> int:
        """Stable position 0..4; the form markers encode it, so never reorder."""
        return list(Contest).index(self)

    @property
    def title_id(self) -> str:
        return _TITLES[self][0]

    @property
    def title_en(self) -> str:
        return _TITLES[self][1]


_TITLES: dict[Contest, tuple[str, str]] = {
    Contest.PPWP: ("Pemilihan Presiden dan Wakil Presiden", "President and Vice-President"),
    Contest.DPR: ("Pemilihan Anggota DPR", "House of Representatives (DPR)"),
    Contest.DPD: ("Pemilihan Anggota DPD", "Regional Representatives Council (DPD)"),
    Contest.DPRD_PROV: ("Pemilihan Anggota DPRD Provinsi", "Provincial parliament (DPRD Provinsi)"),
    Contest.DPRD_KABKOTA: (
        "Pemilihan Anggota DPRD Kabupaten/Kota",
        "Regency/city parliament (DPRD Kabupaten/Kota)",
    ),
}
