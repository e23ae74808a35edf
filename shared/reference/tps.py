"""A plausible, reproducible TPS list: how many TPS per village and how many voters each.

Real TPS lists are not available offline. Counts are fixed per kabupaten (Kepahiang's real 526,
elsewhere the national average of 823,236 TPS / 83,762 villages ≈ 9.83 per village) and spread
over its villages by deterministic weights, so loading one kabupaten, a province or the whole
country gives the same TPS for the same village.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from shared.reference.regions import compact, villages_in

NATIONAL_TPS = 823_236
NATIONAL_VILLAGES = 83_762
KNOWN_TPS_PER_KABUPATEN = {"17.08": 526}  # Kepahiang (KPU, Pemilu 2024)
MAX_DPT = 300  # Pemilu 2024: at most 300 voters per TPS
MIN_DPT = 120


@dataclass(frozen=True, slots=True)
class TpsRecord:
    code: str  # 13 digits: compact desa code + 3-digit number
    desa_code: str  # dotted
    number: int
    dpt: int


def _unit(text: str) -> float:
    """A deterministic number in [0, 1) from a string."""
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _spread(total: int, villages: list[str]) -> dict[str, int]:
    """Largest-remainder split of `total` over villages, at least one TPS each."""
    weights = {v: 0.5 + _unit("tps-weight:" + v) for v in villages}
    spare = max(total - len(villages), 0)
    scale = spare / sum(weights.values())
    shares = {v: 1 + weights[v] * scale for v in villages}
    counts = {v: int(s) for v, s in shares.items()}
    leftover = max(total, len(villages)) - sum(counts.values())
    for v in sorted(villages, key=lambda v: (counts[v] - shares[v], v))[:leftover]:
        counts[v] += 1
    return counts


def dpt_for(tps_code: str) -> int:
    """The synthetic DPT of a TPS: a function of its code alone, so every part agrees."""
    return MIN_DPT + int(_unit("dpt:" + tps_code) * (MAX_DPT - MIN_DPT + 1))


def tps_total_for(kabupaten: str, n_villages: int) -> int:
    known = KNOWN_TPS_PER_KABUPATEN.get(kabupaten)
    return known if known is not None else round(n_villages * NATIONAL_TPS / NATIONAL_VILLAGES)


def generate_tps(villages: Iterable[str]) -> Iterator[TpsRecord]:
    """The TPS of `villages`. Counts are spread over each whole kabupaten, so a village gets
    the same TPS whether one kecamatan, its kabupaten or the whole country is loaded."""
    wanted: dict[str, list[str]] = defaultdict(list)
    for village in villages:
        wanted[".".join(village.split(".")[:2])].append(village)
    for kabupaten, members in sorted(wanted.items()):
        members.sort()
        whole = villages_in(kabupaten)
        counts = _spread(tps_total_for(kabupaten, len(whole)), whole)
        for village in members:
            for number in range(1, counts[village] + 1):
                code = f"{compact(village)}{number:03d}"
                dpt = dpt_for(code)
                yield TpsRecord(code=code, desa_code=village, number=number, dpt=dpt)


def desa_of_tps(tps_code: str) -> str:
    """`1708042001003` → `17.08.04.2001`."""
    c = tps_code
    return f"{c[:2]}.{c[2:4]}.{c[4:6]}.{c[6:10]}"
