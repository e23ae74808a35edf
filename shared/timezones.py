"""Indonesia's three time zones. Times are stored in UTC and shown in the region's zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

WIB = ZoneInfo("Asia/Jakarta")  # UTC+7: Sumatra, Java, West and Central Kalimantan
WITA = ZoneInfo("Asia/Makassar")  # UTC+8: Bali, Nusa Tenggara, S/E/N Kalimantan, Sulawesi
WIT = ZoneInfo("Asia/Jayapura")  # UTC+9: Maluku and Papua

_WITA_PROVINCES = frozenset(
    {"51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76"}
)
_WIT_PROVINCES = frozenset({"81", "82", "91", "92", "93", "94", "95", "96", "97"})


def zone_of(region_code: str) -> tuple[ZoneInfo, str]:
    """The zone and its Indonesian abbreviation for any region or TPS code (dotted or compact)."""
    province = region_code[:2]
    if province in _WIT_PROVINCES:
        return WIT, "WIT"
    if province in _WITA_PROVINCES:
        return WITA, "WITA"
    return WIB, "WIB"


def local_time(moment: datetime, region_code: str) -> str:
    """`2024-02-14 13:05 WIB`: how officials and KPPS read a time."""
    zone, name = zone_of(region_code)
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M} {name}"
