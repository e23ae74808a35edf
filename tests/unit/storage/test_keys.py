"""Object keys: a chunk key names its upload, and nothing else passes for a chunk key."""

from __future__ import annotations

from shared.storage import photo_key, upload_chunk_key, upload_of_chunk


def test_a_chunk_key_names_its_upload_whatever_follows_the_offset() -> None:
    key = upload_chunk_key("3f2a9c1d-0000-4000-8000-000000000001", 4096)
    assert upload_of_chunk(key) == "3f2a9c1d-0000-4000-8000-000000000001"
    assert upload_of_chunk(f"{key}-deadbeef") == "3f2a9c1d-0000-4000-8000-000000000001"


def test_other_keys_are_not_chunks() -> None:
    assert upload_of_chunk(photo_key("ab" * 32)) is None
    assert upload_of_chunk("uploads/loose-object") is None
    assert upload_of_chunk("crops/uploads/x/0") is None
