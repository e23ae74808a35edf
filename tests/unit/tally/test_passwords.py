"""scrypt password hashes."""

from __future__ import annotations

from services.tally.auth.passwords import check_password, hash_password

FAST = {"n": 2**10, "r": 8, "p": 1}  # the format is what is tested, not the cost


def test_a_hash_checks_its_password_and_only_it() -> None:
    stored = hash_password("correct horse battery", **FAST)
    assert stored.startswith("scrypt$1024$8$1$")
    assert check_password("correct horse battery", stored)
    assert not check_password("correct horse batterY", stored)


def test_salts_differ_and_malformed_hashes_fail_closed() -> None:
    assert hash_password("same", **FAST) != hash_password("same", **FAST)
    assert not check_password("x", "bcrypt$whatever")
    assert not check_password("x", "scrypt$not$numbers$at$all$")
