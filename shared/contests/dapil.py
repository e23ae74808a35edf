"""Electoral districts (dapil), derived deterministically from a TPS's region code.

The real 2024 dapil boundaries are not shipped offline, so membership follows a documented rule
on the Kemendagri code digits: stable, cheap, and close to how dapil group neighbouring regions.

- DPR: one dapil per group of 10 kabupaten/kota of a province (most provinces have 1-3).
- DPRD_PROV: one dapil per group of 2 kabupaten/kota.
- DPRD_KABKOTA: one dapil per group of 2 kecamatan.
- DPD: the whole province (DPD candidates stand province-wide).
- PPWP: the whole country.
"""

from __future__ import annotations

import re

from shared.contests.codes import Contest

_TPS_RE = re.compile(r"^\d{13}$")


class InvalidTpsCode(ValueError):
    """A TPS code must be 13 digits: the compact desa code (10) plus the TPS number (3)."""


def check_tps_code(tps_code: str) -> str:
    if not _TPS_RE.match(tps_code):
        raise InvalidTpsCode(f"invalid TPS code {tps_code!r}; expected 13 digits")
    return tps_code


def _kab_group(kab_no: int, size: int) -> int:
    # Kota codes start at 71; folding them onto 1.. keeps each province's groups few and small.
    return 1 + ((kab_no - 1) % 70) // size


def dapil_code(contest: Contest, tps_code: str) -> str:
    """The dapil of ``tps_code`` for ``contest``, e.g. ``"DPRD_KABKOTA-1708-2"``."""
    check_tps_code(tps_code)
    prov, kab = tps_code[:2], tps_code[:4]
    kab_no, kec_no = int(tps_code[2:4]), int(tps_code[4:6])
    if contest is Contest.PPWP:
        return "PPWP-NASIONAL"
    if contest is Contest.DPD:
        return f"DPD-{prov}"
    if contest is Contest.DPR:
        return f"DPR-{prov}-{_kab_group(kab_no, 10)}"
    if contest is Contest.DPRD_PROV:
        return f"DPRD_PROV-{prov}-{_kab_group(kab_no, 2)}"
    return f"DPRD_KABKOTA-{kab}-{1 + (kec_no - 1) // 2}"
