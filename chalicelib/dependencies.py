"""The collaborators every service takes; `wiring` builds them from configuration."""

from __future__ import annotations

from dataclasses import dataclass

from .cipher import EnvelopeCipher
from .clock import Clock
from .config import Settings
from .mailer import Mailer
from .randomness import Randomness
from .repository import Repository


@dataclass
class Dependencies:
    settings: Settings
    repository: Repository
    cipher: EnvelopeCipher
    mailer: Mailer
    clock: Clock
    randomness: Randomness
