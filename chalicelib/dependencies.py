"""The collaborators every service takes; `wiring` builds them from configuration."""

from __future__ import annotations

from dataclasses import dataclass

from .cipher import EnvelopeCipher
from .clock import Clock
from .config import Settings
from .mailer import Mailer
from .queue import Queue
from .randomness import Randomness
from .storage.audit import AuditLog
from .storage.due_index import DueIndex
from .storage.invitations import Invitations
from .storage.notices import Notices
from .storage.organizations import Organizations
from .storage.password_counters import PasswordCounters
from .storage.second_factors import SecondFactors
from .storage.support import Resets
from .storage.users import Users


@dataclass
class Dependencies:
    settings: Settings
    users: Users
    password_counters: PasswordCounters
    second_factors: SecondFactors
    orgs: Organizations
    invitations: Invitations
    notices: Notices
    resets: Resets
    audit_log: AuditLog
    due_index: DueIndex
    cipher: EnvelopeCipher
    mailer: Mailer
    queue: Queue
    clock: Clock
    randomness: Randomness
