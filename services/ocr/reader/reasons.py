"""Why a photo or a field was refused, in the two languages the KPPS app shows."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    en: str
    id: str


TOO_SMALL = Reason(
    "too_small",
    "The photo is too small to read the numbers; photograph the whole sheet closer.",
    "Foto terlalu kecil untuk membaca angka; foto ulang seluruh lembar dari lebih dekat.",
)
TOO_DARK = Reason(
    "too_dark",
    "The photo is too dark; photograph the sheet in better light.",
    "Foto terlalu gelap; foto ulang lembar di tempat yang lebih terang.",
)
TOO_BLURRED = Reason(
    "too_blurred",
    "The photo is blurred; hold the phone still and photograph the sheet again.",
    "Foto buram; pegang ponsel dengan stabil lalu foto ulang lembar ini.",
)
NOT_DECODABLE = Reason(
    "not_decodable",
    "The file is not a readable image; photograph the sheet again.",
    "Berkas bukan gambar yang dapat dibaca; foto ulang lembar ini.",
)
MARKERS_MISSING = Reason(
    "markers_missing",
    "The corner markers of the sheet are not all visible; photograph the whole sheet.",
    "Penanda di sudut lembar tidak terlihat semua; foto ulang seluruh lembar.",
)
POOR_FIT = Reason(
    "poor_fit",
    "The sheet is folded or curved too much to read; lay it flat and photograph it again.",
    "Lembar terlipat atau melengkung; letakkan rata lalu foto ulang.",
)
MIXED_MARKERS = Reason(
    "mixed_markers",
    "The photo shows markers of more than one sheet; photograph one sheet at a time.",
    "Foto memuat penanda dari lebih dari satu lembar; foto satu lembar saja.",
)
TPS_UNREADABLE = Reason(
    "tps_unreadable",
    "The TPS code printed on the sheet could not be read; an officer will check it.",
    "Kode TPS pada lembar tidak terbaca; petugas akan memeriksanya.",
)


def wrong_form(what: str, printed: str, claimed: str) -> Reason:
    """The photo shows another contest, page or TPS than the upload claimed."""
    names = {
        "contest": ("contest", "jenis pemilihan"),
        "page": ("page", "halaman"),
        "tps": ("TPS", "TPS"),
    }
    en, id_ = names[what]
    return Reason(
        f"wrong_{what}",
        f"This sheet is for {en} {printed}, but it was uploaded as {claimed}; "
        "upload the right sheet.",
        f"Lembar ini untuk {id_} {printed}, tetapi diunggah sebagai {claimed}; "
        "unggah lembar yang benar.",
    )
