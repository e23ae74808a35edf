"""Synthetic but deterministic candidate lists (caleg per party per dapil, DPD per province).

Real 2024 candidate lists are large and not needed to exercise the system; what matters is that
every service derives the *same* list from the dapil code alone. Python's ``random.Random`` seeded
with a string is stable across runs and versions (it hashes the string with SHA-512).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

CANDIDATES_SEED = "sirekap-candidates-v1"

_GIVEN = (
    "Agus",
    "Budi",
    "Citra",
    "Dewi",
    "Eko",
    "Fitri",
    "Gita",
    "Hadi",
    "Indah",
    "Joko",
    "Kartika",
    "Lestari",
    "Made",
    "Nur",
    "Oki",
    "Putri",
    "Rahmat",
    "Sari",
    "Taufik",
    "Utami",
    "Wahyu",
    "Yusuf",
    "Zainal",
    "Ayu",
    "Bambang",
    "Dian",
    "Fajar",
    "Hendra",
    "Irma",
    "Rina",
    "Slamet",
)
_FAMILY = (
    "Santoso",
    "Wibowo",
    "Saputra",
    "Hidayat",
    "Rahmawati",
    "Siregar",
    "Nasution",
    "Lubis",
    "Harahap",
    "Pratama",
    "Kusuma",
    "Setiawan",
    "Gunawan",
    "Susanto",
    "Halim",
    "Tanjung",
    "Simanjuntak",
    "Wijaya",
    "Purnomo",
    "Rangkuti",
    "Sembiring",
    "Panjaitan",
    "Mahendra",
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One name on a ballot. ``party`` is the party number, or None for DPD and paslon."""

    id: str
    number: int
    name: str
    party: int | None
    field_key: str


def _name(rng: random.Random) -> str:
    return f"{rng.choice(_GIVEN)} {rng.choice(_FAMILY)}"


def caleg(dapil: str, party: int) -> tuple[Candidate, ...]:
    """3-6 candidates of ``party`` in ``dapil``."""
    rng = random.Random(f"{CANDIDATES_SEED}:{dapil}:{party}")
    count = rng.randint(3, 6)
    return tuple(
        Candidate(
            id=f"{dapil}-{party:02d}-{n:02d}",
            number=n,
            name=_name(rng),
            party=party,
            field_key=f"partai_{party:02d}_caleg_{n:02d}",
        )
        for n in range(1, count + 1)
    )


def dpd_candidates(dapil: str) -> tuple[Candidate, ...]:
    """10-20 individual DPD candidates for a province."""
    rng = random.Random(f"{CANDIDATES_SEED}:{dapil}")
    count = rng.randint(10, 20)
    return tuple(
        Candidate(
            id=f"{dapil}-{n:02d}",
            number=n,
            name=_name(rng),
            party=None,
            field_key=f"dpd_{n:02d}",
        )
        for n in range(1, count + 1)
    )
