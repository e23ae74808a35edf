"""Pure checks of the ingest path: claims, signatures, photos, tus metadata, tokens."""

from __future__ import annotations

import base64

import pytest

from clients.kpps.profile import new_key
from services.ingest.claims import parse_claim
from services.ingest.enrolment import hash_code, new_code, normalise_code
from services.ingest.photo_check import PhotoRejected, inspect_photo, sniff_content_type
from services.ingest.tus import parse_metadata
from shared.auth import Official, Role, issue_token, verify_token
from shared.errors import BadRequest, Forbidden, Unauthorized, Unprocessable, UnsupportedMediaType
from shared.settings import Settings
from shared.signing import UploadClaim, sign, verify
from tests.support.photos import make_jpeg, make_png


def claim(**over: object) -> UploadClaim:
    fields: dict[str, object] = {
        "device_id": "d1",
        "tps": "1708042001003",
        "contest": "PPWP",
        "page": 1,
        "sha256": "a" * 64,
        "captured_at": "2024-02-14T13:05:00+07:00",
    }
    fields.update(over)
    return UploadClaim(**fields)  # type: ignore[arg-type]


def test_any_changed_field_breaks_the_signature() -> None:
    key, _, public = new_key()
    signature = sign(key, claim().signed_bytes())
    assert verify(public, claim().signed_bytes(), signature)
    for change in (
        {"tps": "1708042001004"},
        {"page": 2},
        {"sha256": "b" * 64},
        {"contest": "DPR"},
        {"captured_at": "2024-02-14T13:06:00+07:00"},
    ):
        assert not verify(public, claim(**change).signed_bytes(), signature)
    assert not verify(public, claim().signed_bytes(), "not base64!")


@pytest.mark.parametrize(
    ("over", "error"),
    [
        ({"device_id": None}, Unauthorized),
        ({"tps": "17080420010"}, Unprocessable),
        ({"tps": "1708042001003'; DROP TABLE tps;--"}, Unprocessable),
        ({"contest": "PILPRES"}, Unprocessable),
        ({"page": "0"}, Unprocessable),
        ({"page": "x"}, Unprocessable),
        ({"sha256": "A" * 64}, Unprocessable),
        ({"captured_at": None}, Unprocessable),
    ],
)
def test_parse_claim_refuses_bad_fields(over: dict[str, object], error: type[Exception]) -> None:
    fields: dict[str, object] = {
        "device_id": "d1",
        "tps": "1708042001003",
        "contest": "PPWP",
        "page": "1",
        "sha256": "a" * 64,
        "captured_at": "2024-02-14T06:05:00Z",
    }
    fields.update(over)
    with pytest.raises(error):
        parse_claim(**fields)  # type: ignore[arg-type]


def test_photo_checks() -> None:
    settings = Settings()
    info = inspect_photo(make_jpeg(1), settings)
    assert (info.content_type, info.width, info.height) == ("image/jpeg", 1600, 1200)
    assert inspect_photo(make_png(), settings).content_type == "image/png"
    with pytest.raises(UnsupportedMediaType):
        sniff_content_type(b"GIF89a")
    with pytest.raises(PhotoRejected, match="truncated"):
        inspect_photo(make_jpeg(2)[:30_000], settings)
    with pytest.raises(PhotoRejected, match="too small"):
        inspect_photo(make_jpeg(3, size=(900, 600)), settings)


def test_exif_rotation_swaps_the_checked_dimensions() -> None:
    import io

    from PIL import Image

    image = Image.new("RGB", (1200, 800), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90°: the person sees it as 800×1200
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    info = inspect_photo(buffer.getvalue(), Settings())
    assert (info.width, info.height) == (800, 1200)


def test_tus_metadata() -> None:
    header = f"tps {base64.b64encode(b'1708042001003').decode()},empty,page MQ=="
    assert parse_metadata(header) == {"tps": "1708042001003", "empty": "", "page": "1"}
    with pytest.raises(BadRequest):
        parse_metadata("tps not-base64!")
    with pytest.raises(BadRequest):
        parse_metadata("a b c")


def test_enrolment_codes_tolerate_how_people_type_them() -> None:
    code = new_code()
    assert len(code) == 11 and code[5] == "-"
    assert hash_code(code) == hash_code(code.lower().replace("-", " "))
    assert normalise_code(" ab-cd ") == "ABCD"


def test_tokens_are_scoped_signed_and_expire() -> None:
    secret = "s" * 32
    pps = Official("budi", Role.PPS, "17.08.04.2001")
    token = issue_token(secret, pps)
    assert verify_token(secret, token) == pps
    assert pps.covers("1708042001003") and not pps.covers("1708042002001")
    with pytest.raises(Forbidden):
        pps.require("17.08.05")
    with pytest.raises(Unauthorized):
        verify_token("x" * 32, token)
    with pytest.raises(Unauthorized):
        verify_token(secret, token, now=10**12)
    forged = token.split(".")[0][:-2] + "xx." + token.split(".")[1]
    with pytest.raises(Unauthorized):
        verify_token(secret, forged)
