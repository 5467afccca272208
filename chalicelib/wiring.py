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
    from .queue import SqsQueue
    from .storage.audit import AuditLog
    from .storage.due_index import DueIndex
    from .storage.invitations import Invitations
    from .storage.notices import Notices
    from .storage.organizations import Organizations
    from .storage.password_counters import PasswordCounters
    from .storage.second_factors import SecondFactors
    from .storage.support import Resets
    from .storage.table import Table
    from .storage.users import Users

    settings = _overrides.settings or Settings.from_environment()
    randomness = _overrides.randomness or SystemRandomness()
    table = Table(functools.partial(aws.client, "dynamodb"), settings.table_name)
    due_index = DueIndex(table, settings.deadline_shards)
    return Dependencies(
        settings=settings,
        users=Users(table),
        password_counters=PasswordCounters(table),
        second_factors=SecondFactors(table),
        orgs=Organizations(table, due_index),
        invitations=Invitations(table),
        notices=Notices(table),
        resets=Resets(table, due_index),
        audit_log=AuditLog(table),
        due_index=due_index,
        cipher=EnvelopeCipher(functools.partial(aws.client, "kms"), settings.kms_key_id, randomness),
        mailer=_overrides.mailer
        or SesMailer(functools.partial(aws.client, "ses"), settings.sender_email, settings.ses_configuration_set),
        queue=SqsQueue(functools.partial(aws.client, "sqs"), settings.queue_url),
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
