"""Password hashing, and the rules of the wrong-password throttle. No I/O.

New hashes are Argon2id at the configured parameters. Hashes of older accounts (scrypt, or
Argon2id at lower parameters) still verify and are replaced at the next correct sign-in.
An unknown email costs the same Argon2id hash as a wrong password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .config import Settings
from .randomness import Randomness

if TYPE_CHECKING:
    from argon2 import PasswordHasher

ARGON2ID = "$argon2id$"
SALT_BYTES = 16
HASH_BYTES = 32

# The wrong-password throttle (DESIGN.md, "Throttling"), per email address.
PAUSE_AFTER = 10  # the 10th consecutive wrong password starts the first pause
FIRST_PAUSE_SECONDS = 60
LONGEST_PAUSE_SECONDS = 3600
FORGET_AFTER_SECONDS = 24 * 3600  # a counter untouched this long after its last pause is forgotten
NOTICE_INTERVAL_SECONDS = 24 * 3600  # the owner hears of a pause at most once a day


def _hasher(settings: Settings) -> PasswordHasher:
    from argon2 import PasswordHasher, Type

    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        hash_len=HASH_BYTES,
        salt_len=SALT_BYTES,
        type=Type.ID,
    )


def hash_password(password: str, settings: Settings, randomness: Randomness) -> str:
    return _hasher(settings).hash(password, salt=randomness.token_bytes(SALT_BYTES))


def verify_password(password: str, stored: str, settings: Settings) -> bool:
    if not stored.startswith(ARGON2ID):
        return _verify_scrypt(password, stored)
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        # The stored hash names its own parameters; the settings only shape new hashes.
        return _hasher(settings).verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_upgrade(stored: str, settings: Settings) -> bool:
    """True for a scrypt hash, or an Argon2id hash made with other parameters than today's."""
    return not stored.startswith(ARGON2ID) or _hasher(settings).check_needs_rehash(stored)


def burn_equal_time(password: str, settings: Settings) -> None:
    """Spend one Argon2id hash on a missing account, so timing does not reveal which emails exist."""
    _hasher(settings).hash(password, salt=bytes(SALT_BYTES))


def _verify_scrypt(password: str, stored: str) -> bool:
    """The hashes accounts made before Argon2id: scrypt$N$r$p$salt$digest, base64."""
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    _, n, r, p, salt, digest = stored.split("$")
    actual = Scrypt(salt=base64.b64decode(salt), length=32, n=int(n), r=int(r), p=int(p)).derive(password.encode())
    return hmac.compare_digest(actual, base64.b64decode(digest))


# -- the wrong-password throttle -----------------------------------------------------------------


def email_digest(email: str) -> str:
    """What the throttle is keyed by: an unknown address is never stored, only this hash."""
    return hashlib.sha256(b"aegis-2fa wrong passwords\0" + email.encode()).hexdigest()


def pause_seconds(failures: int) -> int:
    """1 minute at the 10th consecutive wrong password, doubling with each further one, at most 1 hour."""
    if failures < PAUSE_AFTER:
        return 0
    return int(min(FIRST_PAUSE_SECONDS * 2 ** (failures - PAUSE_AFTER), LONGEST_PAUSE_SECONDS))


@dataclass(frozen=True)
class WrongPasswordCount:
    """What one more wrong password writes, given the counter as read."""

    failures: int
    paused_until: int  # 0: no pause
    notified_at: int  # when the owner was last told of a pause
    notify: bool  # this failure starts a pause the owner is to hear of
    forget_at: int  # the counter's TTL


def count_wrong_password(failures: int, notified_at: int, now: int) -> WrongPasswordCount:
    """One more wrong password on a counter of `failures` with no pause running."""
    failures += 1
    pause = pause_seconds(failures)
    notify = pause > 0 and now - notified_at >= NOTICE_INTERVAL_SECONDS
    return WrongPasswordCount(
        failures=failures,
        paused_until=now + pause if pause else 0,
        notified_at=now if notify else notified_at,
        notify=notify,
        forget_at=now + pause + FORGET_AFTER_SECONDS,
    )
