"""Is this body a photo we can read? Checked before anything is stored.

Order matters for safety and speed: magic bytes (no parsing of what is not an image), then the
header's dimensions (a decompression bomb is refused before a single pixel is decoded), then
the structure.

JPEGs are not decoded here. Their structure is walked instead, in well under a millisecond:
SOI first; every marker segment's length inside the body; exactly one frame header (SOF) of a
process the decoders read (baseline, extended or progressive; 8-bit; 1, 3 or 4 components) with
a non-zero width and height; at least one scan (SOS) whose entropy-coded data is followed by
further markers (checked at C speed with one regular expression per scan); and an EOI that
ends the image. A truncated photo, one cut off before its end, a header without image data and
a frame of zero size are all refused here with 422. Bytes after EOI are allowed: phones append
trailers there (motion-photo videos, MPF secondary images), and decoders ignore them.

What the walk cannot see is damage *inside* the entropy-coded data. The OCR worker decodes
every photo in full and answers an undecodable one with a retake and its reason
(`services/ocr/reader/page.py`), so nothing unreadable reaches a count; and damage in transit
is caught earlier still, by the signed SHA-256. Decoding at 1/8 scale here cost ~7 ms of CPU per
1 MiB photo, a quarter of the whole upload path.

PNGs (rare: screenshots, scanners) keep Pillow's header check, the pixel limit and a full decode.
"""

from __future__ import annotations

import asyncio
import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from shared.errors import Unprocessable, UnsupportedMediaType
from shared.settings import Settings

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EXIF_ORIENTATION = 0x0112
TRANSPOSED_ORIENTATIONS = frozenset({5, 6, 7, 8})  # 90° or 270°: width and height swap

# Our own pixel limit is checked on the header; Pillow's global one would only warn.
Image.MAX_IMAGE_PIXELS = None

# Frame headers libjpeg-turbo decodes: baseline, extended, progressive (Huffman), and the
# arithmetic-coded extended and progressive ones. Lossless and hierarchical ones it refuses.
_DECODABLE_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC9, 0xCA})
_ALL_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # not DHT, JPG, DAC
_SOS, _EOI, _SOI, _APP1 = 0xDA, 0xD9, 0xD8, 0xE1
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM and RST0–7 carry no length
# The end of an entropy-coded segment: 0xFF followed by a byte that is not a stuffed zero, a
# restart marker or a fill byte. No repetition in either pattern, so both scan in linear time
# whatever the bytes (a run of 0xFF cannot make them backtrack).
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_NOT_FILL = re.compile(rb"[^\xff]")
# Real photos have a few dozen segments (a progressive one a few more); a body of millions of
# empty ones is an attack on the walk's CPU time.
MAX_SEGMENTS = 4096
_EXIF_HEADER = b"Exif\x00\x00"


@dataclass(frozen=True, slots=True)
class PhotoInfo:
    content_type: str
    width: int  # after EXIF orientation, as a person sees the photo
    height: int


class PhotoRejected(Unprocessable):
    """The photo cannot be read."""


def sniff_content_type(head: bytes | bytearray | memoryview) -> str:
    """`image/jpeg` or `image/png` from the first bytes, or raise 415."""
    start = bytes(head[:8])
    if start.startswith(JPEG_MAGIC):
        return "image/jpeg"
    if start.startswith(PNG_MAGIC):
        return "image/png"
    raise UnsupportedMediaType(
        "the body is neither a JPEG nor a PNG image",
        "Berkas bukan foto JPEG atau PNG. Kirim foto formulir dari kamera.",
    )


def _corrupt(why: str) -> PhotoRejected:
    return PhotoRejected(
        f"the image is corrupt or truncated: {why}",
        "Foto rusak atau terpotong saat dikirim. Kirim ulang foto.",
    )


async def check_photo(data: bytes | bytearray | memoryview, settings: Settings) -> PhotoInfo:
    """`inspect_photo` from the event loop: a JPEG's walk is well under a millisecond and holds
    the GIL anyway, so it runs inline; a PNG is decoded in a worker thread (Pillow releases the
    GIL while decoding)."""
    if sniff_content_type(data) == "image/jpeg":
        return inspect_photo(data, settings)
    return await asyncio.to_thread(inspect_photo, data, settings)


def inspect_photo(data: bytes | bytearray | memoryview, settings: Settings) -> PhotoInfo:
    content_type = sniff_content_type(data)
    if content_type == "image/jpeg":
        width, height, orientation = jpeg_structure(data)
        _check_pixels(width, height, settings)
    else:
        width, height, orientation = _png_checked(data, settings)
    if orientation in TRANSPOSED_ORIENTATIONS:
        width, height = height, width
    _check_resolution(width, height, settings)
    return PhotoInfo(content_type=content_type, width=width, height=height)


def jpeg_structure(data: bytes | bytearray | memoryview) -> tuple[int, int, int]:
    """(width, height, EXIF orientation) of a structurally complete JPEG, else PhotoRejected.

    Walks the markers from SOI to EOI without decoding; see the module's docstring.
    """
    view = data if isinstance(data, bytes | bytearray) else bytes(data)
    n = len(view)
    if view[:2] != b"\xff\xd8":
        raise _corrupt("no start-of-image marker")
    pos = 2
    frame: tuple[int, int] | None = None
    orientation = 1
    exif_seen = False
    scans = 0
    for _ in range(MAX_SEGMENTS):
        if pos >= n:
            raise _corrupt("the file ends before its end-of-image marker")
        if view[pos] != 0xFF:
            raise _corrupt(f"expected a marker at byte {pos}")
        pos += 1
        if pos < n and view[pos] == 0xFF:  # fill bytes (0xFF) may precede any marker
            not_fill = _NOT_FILL.search(view, pos)
            pos = n if not_fill is None else not_fill.start()
        if pos >= n:
            raise _corrupt("the file ends inside a marker")
        marker = view[pos]
        pos += 1
        if marker == _EOI:
            if frame is None or scans == 0:
                raise _corrupt("the file has no image data")
            return frame[0], frame[1], orientation
        if marker in _STANDALONE:
            continue
        if marker in (_SOI, 0x00):
            raise _corrupt(f"unexpected marker 0xFF{marker:02X} at byte {pos - 2}")
        if pos + 2 > n:
            raise _corrupt("the file ends inside a segment header")
        length = (view[pos] << 8) | view[pos + 1]
        end = pos + length
        if length < 2 or end > n:
            raise _corrupt(f"segment 0xFF{marker:02X} runs past the end of the file")
        if marker in _ALL_SOF:
            if frame is not None:
                raise _corrupt("more than one frame header")
            frame = _frame_size(view, marker, pos + 2, length - 2)
        elif marker == _SOS:
            if frame is None:
                raise _corrupt("image data before the frame header")
            count = view[pos + 2] if length > 2 else 0
            if not 1 <= count <= 4 or length != 6 + 2 * count:
                raise _corrupt("malformed scan header")
            found = _SCAN_END.search(view, end)
            if found is None:
                raise _corrupt("the image data is cut off before its end marker")
            scans += 1
            pos = found.start()
            continue
        elif marker == _APP1 and not exif_seen and view[pos + 2 : pos + 8] == _EXIF_HEADER:
            exif_seen = True  # as Pillow: IFD0 is in the first Exif segment
            orientation = _exif_orientation(bytes(view[pos + 8 : end]))
        pos = end
    raise _corrupt(f"more than {MAX_SEGMENTS} segments")


def _frame_size(view: bytes | bytearray, marker: int, start: int, size: int) -> tuple[int, int]:
    if marker not in _DECODABLE_SOF:
        raise _corrupt(f"unsupported JPEG process (SOF 0xFF{marker:02X})")
    if size < 6:
        raise _corrupt("malformed frame header")
    precision = view[start]
    height = (view[start + 1] << 8) | view[start + 2]
    width = (view[start + 3] << 8) | view[start + 4]
    components = view[start + 5]
    if precision != 8 or components not in (1, 3, 4) or size != 6 + 3 * components:
        raise _corrupt("unsupported or malformed frame header")
    for i in range(components):
        sampling = view[start + 6 + 3 * i + 1]
        if not (1 <= sampling >> 4 <= 4 and 1 <= sampling & 0x0F <= 4):
            raise _corrupt("malformed frame header")
    if width == 0 or height == 0:
        raise _corrupt(f"the frame header gives a size of {width}×{height} px")
    return width, height


def _exif_orientation(tiff: bytes) -> int:
    """The Orientation tag of IFD0, 1 when absent or unreadable (as if no EXIF)."""
    if tiff[:4] == b"II*\x00":
        order = "little"
    elif tiff[:4] == b"MM\x00*":
        order = "big"
    else:
        return 1
    ifd = int.from_bytes(tiff[4:8], order)  # type: ignore[arg-type]
    if ifd < 8 or ifd + 2 > len(tiff):
        return 1
    count = int.from_bytes(tiff[ifd : ifd + 2], order)  # type: ignore[arg-type]
    for i in range(count):
        entry = ifd + 2 + 12 * i
        if entry + 12 > len(tiff):
            return 1
        if int.from_bytes(tiff[entry : entry + 2], order) != EXIF_ORIENTATION:  # type: ignore[arg-type]
            continue
        kind = int.from_bytes(tiff[entry + 2 : entry + 4], order)  # type: ignore[arg-type]
        width = {3: 2, 4: 4}.get(kind)
        if width is None:
            return 1
        value = int.from_bytes(tiff[entry + 8 : entry + 8 + width], order)  # type: ignore[arg-type]
        return value if 1 <= value <= 8 else 1
    return 1


def _png_checked(data: bytes | bytearray | memoryview, settings: Settings) -> tuple[int, int, int]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            _check_pixels(width, height, settings)
            orientation = image.getexif().get(EXIF_ORIENTATION, 1)
            image.load()
    except PhotoRejected:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
    ) as exc:
        raise _corrupt(str(exc)) from exc
    return width, height, orientation


def _check_pixels(width: int, height: int, settings: Settings) -> None:
    if width * height > settings.max_pixels:
        raise PhotoRejected(
            f"{width}×{height} px exceeds the limit of {settings.max_pixels:,} pixels",
            f"Foto {width}×{height} piksel melebihi batas {settings.max_pixels:,} piksel.",
        )


def _check_resolution(width: int, height: int, settings: Settings) -> None:
    long_side, short_side = max(width, height), min(width, height)
    if long_side < settings.min_long_side or short_side < settings.min_short_side:
        raise PhotoRejected(
            f"{width}×{height} px is too small to read; at least "
            f"{settings.min_long_side}×{settings.min_short_side} px is needed",
            f"Resolusi foto {width}×{height} piksel terlalu kecil untuk dibaca; minimal "
            f"{settings.min_long_side}×{settings.min_short_side} piksel. Foto ulang lebih dekat.",
        )
