"""Backup codes: 8 single-use codes of 80 bits, shown as XXXXXXXX-XXXXXXXX.

Only salted SHA-256 hashes are stored, so a code can be verified, not retrieved.
"""

from __future__ import annotations

import hashlib
import hmac

from .randomness import Randomness

COUNT = 8
SYMBOLS = 16
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
# Crockford's decoding rules forgive the letters people confuse with digits.
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})


def generate(randomness: Randomness) -> list[str]:
    return [_format(_random_symbols(randomness)) for _ in range(COUNT)]


def _random_symbols(randomness: Randomness) -> str:
    value = int.from_bytes(randomness.token_bytes(SYMBOLS * 5 // 8), "big")
    return "".join(ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(SYMBOLS)))


def _format(symbols: str) -> str:
    return f"{symbols[:8]}-{symbols[8:]}"


def normalise(text: str) -> str | None:
    """The 16 symbols of a code typed in any case, with or without dash and spaces;
    None if it cannot be a backup code."""
    symbols = text.replace("-", "").replace(" ", "").upper().translate(_LOOKALIKES)
    if len(symbols) != SYMBOLS or any(ch not in ALPHABET for ch in symbols):
        return None
    return symbols


def hash_code(salt: bytes, normalised: str) -> str:
    return hashlib.sha256(salt + normalised.encode()).hexdigest()


def hash_all(salt: bytes, codes: list[str]) -> frozenset[str]:
    """The stored form of freshly generated codes."""
    return frozenset(hash_code(salt, code.replace("-", "")) for code in codes)


def find_hash(salt: bytes, normalised: str, stored_hashes: set[str]) -> str | None:
    """The stored hash matching the code, compared in constant time against every hash."""
    candidate = hash_code(salt, normalised)
    found = None
    for stored in stored_hashes:
        if hmac.compare_digest(stored, candidate):
            found = stored
    return found
