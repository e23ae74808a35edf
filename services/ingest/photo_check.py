"""Is this body a photo we can read? Checked before anything is stored.

Order matters for safety and speed: magic bytes (no parsing of what is not an image), then the
header's dimensions (a decompression bomb is refused before a single pixel is decoded), then a
decode. JPEGs are decoded at 1/8 scale (libjpeg's DCT scaling), which still walks every
entropy-coded block, so truncation and corruption are caught at a fraction of a full decode.
Runs in a worker thread: Pillow releases the GIL while decoding.
"""

from __future__ import annotations

import io
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


def inspect_photo(data: bytes | bytearray | memoryview, settings: Settings) -> PhotoInfo:
    content_type = sniff_content_type(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > settings.max_pixels:
                raise PhotoRejected(
                    f"{width}×{height} px exceeds the limit of {settings.max_pixels:,} pixels",
                    f"Foto {width}×{height} piksel melebihi batas {settings.max_pixels:,} piksel.",
                )
            orientation = image.getexif().get(EXIF_ORIENTATION, 1)
            if orientation in TRANSPOSED_ORIENTATIONS:
                width, height = height, width
            _check_resolution(width, height, settings)
            if content_type == "image/jpeg":
                image.draft("L", (max(width // 8, 1), max(height // 8, 1)))
            image.load()
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
    ) as exc:
        raise PhotoRejected(
            f"the image is corrupt or truncated: {exc}",
            "Foto rusak atau terpotong saat dikirim. Kirim ulang foto.",
        ) from exc
    return PhotoInfo(content_type=content_type, width=width, height=height)


def _check_resolution(width: int, height: int, settings: Settings) -> None:
    long_side, short_side = max(width, height), min(width, height)
    if long_side < settings.min_long_side or short_side < settings.min_short_side:
        raise PhotoRejected(
            f"{width}×{height} px is too small to read; at least "
            f"{settings.min_long_side}×{settings.min_short_side} px is needed",
            f"Resolusi foto {width}×{height} piksel terlalu kecil untuk dibaca; minimal "
            f"{settings.min_long_side}×{settings.min_short_side} piksel. Foto ulang lebih dekat.",
        )
