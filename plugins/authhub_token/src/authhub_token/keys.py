"""Token keys: how they are made, recognised and turned into what is stored.

A key reads ``ahk_`` + 43 random base62 characters + 8 hex digits of
CRC-32 over everything before them, 55 characters in all::

    ahk_4bYq0Qm7x...Zr81c0f5e2a

The prefix lets secret scanners find leaked keys; the checksum refuses a
mistyped or truncated key before the database is asked. Neither is secret:
the 43 random characters (256 bits from :mod:`secrets`) are.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import zlib

PREFIX = "ahk_"
ALPHABET = string.digits + string.ascii_letters
RANDOM_LENGTH = 43  # 43 base62 characters carry 256 bits
CHECKSUM_LENGTH = 8
KEY_LENGTH = len(PREFIX) + RANDOM_LENGTH + CHECKSUM_LENGTH
#: What a secret scanner can look for.
PATTERN = rf"\b{PREFIX}[0-9A-Za-z]{{{RANDOM_LENGTH}}}[0-9a-f]{{{CHECKSUM_LENGTH}}}\b"


def generate_key() -> str:
    """A new key: prefix, 256 random bits in base62, checksum."""
    body = PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return body + _checksum(body.encode("ascii"))


def is_well_formed(key: str) -> bool:
    """Whether ``key`` has the prefix, the length and a matching checksum (no database involved)."""
    return key.isascii() and has_valid_checksum(key.encode("ascii"))


def has_valid_checksum(raw: bytes) -> bool:
    """:func:`is_well_formed` for a key already encoded (the request path's form).

    A plain comparison is right here: the checksum is no secret, anyone can
    compute it from the rest of the key.
    """
    return (len(raw) == KEY_LENGTH and raw.startswith(_PREFIX_BYTES)
            and b"%08x" % zlib.crc32(raw[:-CHECKSUM_LENGTH]) == raw[-CHECKSUM_LENGTH:])


def digest(key: str) -> bytes:
    """What the database stores for ``key``: its SHA-256.

    A plain, fast hash is the right tool here and a slow password hash
    (argon2) would be the wrong one: keys carry 256 random bits, so no
    dictionary or brute-force attack on a leaked digest can succeed, and a
    salt protects nothing that is not already unguessable. Being fast and
    deterministic is what lets the lookup be a single indexed query.
    """
    return hashlib.sha256(key.encode("utf-8")).digest()


def _checksum(body: bytes) -> str:
    return f"{zlib.crc32(body):08x}"


_PREFIX_BYTES = PREFIX.encode("ascii")
