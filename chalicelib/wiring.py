"""The one place that builds adapters and hands them to services.

Built on first use, from the environment as it is at that moment, so importing
`app` creates no AWS client. Tests and notebooks swap the clock, the source of
randomness or the mailer through `configure`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from . import aws
from .clock import Clock, SystemClock
from .config import Settings
from .dependencies import Dependencies
from .mailer import Mailer
from .randomness import Randomness, SystemRandomness


@dataclass
class _Overrides:
    settings: Settings | None = None
    clock: Clock | None = None
    randomness: Randomness | None = None
    mailer: Mailer | None = None


_overrides = _Overrides()
_dependencies: Dependencies | None = None


def dependencies() -> Dependencies:
    global _dependencies
    if _dependencies is None:
        _dependencies = _build()
    return _dependencies


def _build() -> Dependencies:
    from .cipher import EnvelopeCipher
    from .mailer import SesMailer
    from .repository import Repository

    settings = _overrides.settings or Settings.from_environment()
    randomness = _overrides.randomness or SystemRandomness()
    return Dependencies(
        settings=settings,
        repository=Repository(functools.partial(aws.client, "dynamodb"), settings.table_name),
        cipher=EnvelopeCipher(functools.partial(aws.client, "kms"), settings.kms_key_id, randomness),
        mailer=_overrides.mailer or SesMailer(functools.partial(aws.client, "ses"), settings.sender_email),
        clock=_overrides.clock or SystemClock(),
        randomness=randomness,
    )


def configure(
    *,
    settings: Settings | None = None,
    clock: Clock | None = None,
    randomness: Randomness | None = None,
    mailer: Mailer | None = None,
) -> None:
    """Replace collaborators (tests, notebooks) and forget what was built."""
    global _overrides
    _overrides = _Overrides(settings, clock, randomness, mailer)
    reset()


def reset() -> None:
    """Forget built dependencies and AWS clients; the next call builds them again."""
    global _dependencies
    _dependencies = None
    aws.reset_clients()
