"""scrypt password hashes with their parameters, compared in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# n=2^14, r=8, p=1: 16 MiB and ~50 ms per check here; OWASP's floor for scrypt is n=2^17 with
# p=1 *or* n=2^14 with higher p; logins are rare (one per official per shift), so we use p=2.
N, R, P = 2**14, 8, 2
MAXMEM = 64 * 1024 * 1024


def hash_password(password: str, *, n: int = N, r: int = R, p: int = P) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=MAXMEM, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${n}${r}${p}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        digest = hashlib.scrypt(
            password.encode(),
            salt=salt,
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=MAXMEM,
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest, expected)


# Checked when the username is unknown, so a login takes as long either way.
DUMMY_HASH = hash_password(secrets.token_hex(8))
