"""The 18 national parties of Pemilu 2024 with their ballot numbers, and the three paslon.

Ballot numbers are the real 2024 ones: 1-17 and 24 (Partai Ummat); numbers 19-23 went to
Aceh's local parties, which this project does not model.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Party:
    number: int
    short: str
    name: str


PARTIES: tuple[Party, ...] = (
    Party(1, "PKB", "Partai Kebangkitan Bangsa"),
    Party(2, "Gerindra", "Partai Gerakan Indonesia Raya"),
    Party(3, "PDI-P", "Partai Demokrasi Indonesia Perjuangan"),
    Party(4, "Golkar", "Partai Golongan Karya"),
    Party(5, "NasDem", "Partai NasDem"),
    Party(6, "Buruh", "Partai Buruh"),
    Party(7, "Gelora", "Partai Gelombang Rakyat Indonesia"),
    Party(8, "PKS", "Partai Keadilan Sejahtera"),
    Party(9, "PKN", "Partai Kebangkitan Nusantara"),
    Party(10, "Hanura", "Partai Hati Nurani Rakyat"),
    Party(11, "Garuda", "Partai Garda Republik Indonesia"),
    Party(12, "PAN", "Partai Amanat Nasional"),
    Party(13, "PBB", "Partai Bulan Bintang"),
    Party(14, "Demokrat", "Partai Demokrat"),
    Party(15, "PSI", "Partai Solidaritas Indonesia"),
    Party(16, "Perindo", "Partai Persatuan Indonesia"),
    Party(17, "PPP", "Partai Persatuan Pembangunan"),
    Party(24, "Ummat", "Partai Ummat"),
)


@dataclass(frozen=True, slots=True)
class Paslon:
    """A presidential ticket; ``id`` is Sirekap's key in the public JSON ``chart``."""

    number: int
    id: str
    names: str


PASLON: tuple[Paslon, ...] = (
    Paslon(1, "100025", "H. Anies Rasyid Baswedan - Dr. (H.C.) H. A. Muhaimin Iskandar"),
    Paslon(2, "100026", "H. Prabowo Subianto - Gibran Rakabuming Raka"),
    Paslon(3, "100027", "H. Ganjar Pranowo - Prof. Dr. H. M. Mahfud MD"),
)
