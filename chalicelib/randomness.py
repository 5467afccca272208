"""The one source of random bytes, so notebooks can make their outputs repeatable.

Production uses the operating system's CSPRNG (`secrets`). `SeededRandomness` is
for notebooks and tests only: it is predictable by design.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Protocol


class Randomness(Protocol):
    def token_bytes(self, count: int) -> bytes: ...


class SystemRandomness:
    def token_bytes(self, count: int) -> bytes:
        return secrets.token_bytes(count)


class SeededRandomness:
    """Deterministic bytes from a seed (SHA-256 in counter mode). Never in production."""

    def __init__(self, seed: str) -> None:
        self._seed = seed.encode()
        self._counter = 0

    def token_bytes(self, count: int) -> bytes:
        out = b""
        while len(out) < count:
            self._counter += 1
            out += hashlib.sha256(self._seed + self._counter.to_bytes(8, "big")).digest()
        return out[:count]
