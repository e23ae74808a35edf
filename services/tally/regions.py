"""The region tree and TPS counts, held in memory: 91k regions fit in a few MB and every
dashboard and public request needs names, children and denominators without a query."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select

from shared.db.engine import Database
from shared.db.tables import Region, Tps
from shared.errors import NotFound
from shared.reference.regions import LEVEL_NAMES, NATIONAL_CODE, dotted

# An unknown code triggers a reload (reference data loaded after start) at most this often:
# nationally a reload reads 91k regions and groups 823k TPS (a few seconds of database work),
# so a stream of made-up codes must not be able to ask for it more often.
RELOAD_MIN_INTERVAL_S = 60.0


@dataclass(frozen=True, slots=True)
class RegionInfo:
    code: str  # dotted; "00" for the nation
    name: str
    level: int
    parent: str | None
    tps: int  # TPS inside the region
    dpt: int  # voters on the permanent lists of those TPS

    @property
    def level_name(self) -> str:
        return LEVEL_NAMES.get(self.level, "tps")

    @property
    def compact(self) -> str:
        return self.code.replace(".", "") if self.code != NATIONAL_CODE else "0"


@dataclass
class RegionIndex:
    db: Database
    by_code: dict[str, RegionInfo] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)
    loaded_at: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def load(self) -> None:
        async with self._lock:
            async with self.db.reading() as session:
                regions = (
                    await session.execute(
                        select(Region.code, Region.name, Region.level, Region.parent_code)
                    )
                ).all()
                per_desa = (
                    await session.execute(
                        select(Tps.desa_code, func.count(), func.sum(Tps.dpt)).group_by(
                            Tps.desa_code
                        )
                    )
                ).all()
            tps: dict[str, int] = defaultdict(int)
            dpt: dict[str, int] = defaultdict(int)
            parents = {r.code: r.parent_code for r in regions}
            for desa, count, voters in per_desa:
                code: str | None = desa
                while code is not None:  # roll each village's TPS up to the nation
                    tps[code] += int(count)
                    dpt[code] += int(voters or 0)
                    code = parents.get(code)
            by_code = {
                r.code: RegionInfo(r.code, r.name, r.level, r.parent_code, tps[r.code], dpt[r.code])
                for r in regions
            }
            children: dict[str, list[str]] = defaultdict(list)
            for r in sorted(regions, key=lambda r: r.code):
                if r.parent_code is not None:
                    children[r.parent_code].append(r.code)
            self.by_code, self.children = by_code, dict(children)
            self.loaded_at = time.monotonic()

    async def get(self, code: str) -> RegionInfo:
        """A region by dotted or compact code (`0` and `00` are the nation)."""
        key = normalise(code)
        info = self.by_code.get(key)
        if info is None and time.monotonic() - self.loaded_at > RELOAD_MIN_INTERVAL_S:
            await self.load()
            info = self.by_code.get(key)
        if info is None:
            raise NotFound(f"no region {code}", f"Wilayah {code} tidak ditemukan.")
        return info

    def child_regions(self, code: str) -> list[RegionInfo]:
        return [self.by_code[c] for c in self.children.get(code, [])]

    def ancestors(self, code: str) -> list[RegionInfo]:
        """From the nation down to the region itself."""
        chain: list[RegionInfo] = []
        current: str | None = code
        while current is not None and current in self.by_code:
            chain.append(self.by_code[current])
            current = self.by_code[current].parent
        return list(reversed(chain))


def normalise(code: str) -> str:
    """Dotted form of a region code given either way; `0`/`00` → `00`."""
    if code in ("0", NATIONAL_CODE):
        return NATIONAL_CODE
    if "." in code:
        return code
    # Only region lengths: `dotted` would read a 13-digit TPS code as its village.
    return dotted(code) if len(code) in (2, 4, 6, 10) else code
