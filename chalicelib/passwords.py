"""Password hashing with scrypt; an unknown email costs the same as a wrong password."""

from __future__ import annotations

import base64
import hmac

from .config import Settings
from .randomness import Randomness


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password.encode())


def hash_password(password: str, settings: Settings, randomness: Randomness) -> str:
    salt = randomness.token_bytes(16)
    digest = _derive(password, salt, settings.scrypt_n, settings.scrypt_r, settings.scrypt_p)
    b64 = base64.b64encode
    return (
        f"scrypt${settings.scrypt_n}${settings.scrypt_r}${settings.scrypt_p}"
        f"${b64(salt).decode()}${b64(digest).decode()}"
    )


def verify_password(password: str, stored: str) -> bool:
    _, n, r, p, salt, digest = stored.split("$")
    actual = _derive(password, base64.b64decode(salt), int(n), int(r), int(p))
    return hmac.compare_digest(actual, base64.b64decode(digest))


def burn_equal_time(password: str, settings: Settings) -> None:
    """Spend one scrypt on a missing account, so timing does not reveal which emails exist."""
    _derive(password, b"\0" * 16, settings.scrypt_n, settings.scrypt_r, settings.scrypt_p)
