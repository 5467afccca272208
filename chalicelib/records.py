"""What the service layer reads from storage: plain, immutable values, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PENDING = "pending"
ACTIVE = "active"


@dataclass(frozen=True)
class Profile:
    user_id: str
    email: str
    password_hash: str
    session_epoch: int = 0  # sessions minted under an older epoch are revoked
    failures: int = 0  # consecutive failed second-factor attempts
    locked_until: int = 0
    support: bool = False
    org_ids: tuple[str, ...] = ()  # the organizations the user belongs to
    memberships: int = 0  # moves at every join, leave or role change: writes that need them unchanged check it


@dataclass(frozen=True)
class PasswordCounter:
    """The wrong-password counter of one email address, as the password step reads it. An absent
    counter, or one past its TTL that DynamoDB has not deleted yet, counts as zero."""

    failures: int = 0  # consecutive wrong passwords
    paused_until: int = 0
    notified_at: int = 0  # the owner was last emailed of a pause then
    stored_failures: int | None = None  # what the item holds (None: no item): the next write checks it


@dataclass(frozen=True)
class TotpState:
    status: str  # PENDING until confirmed, then ACTIVE
    sealed_secret: dict[str, Any]
    created_at: int
    last_step: int | None = None  # the last accepted time step; replays are refused
    enabled_at: int | None = None
    pending_expires_at: int | None = None

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


@dataclass(frozen=True)
class BackupCodeHashes:
    salt: bytes
    hashes: frozenset[str]


@dataclass(frozen=True)
class TokenRecord:
    kind: str
    expires_at: int
    session_epoch: int


@dataclass(frozen=True)
class PendingReset:
    reset_id: str
    effective_at: int
    requested_by: str


@dataclass(frozen=True)
class UserState:
    profile: Profile
    totp: TotpState | None = None
    backup: BackupCodeHashes | None = None
    pending_reset: PendingReset | None = None

    @property
    def org_ids(self) -> tuple[str, ...]:
        return self.profile.org_ids

    @property
    def two_factor_enabled(self) -> bool:
        return self.totp is not None and self.totp.active

    @property
    def backup_codes_remaining(self) -> int:
        return len(self.backup.hashes) if self.backup and self.two_factor_enabled else 0


@dataclass(frozen=True)
class MemberTally:
    """Members by what decides their status: exempt, or owing 2FA with it on or off.
    Statuses follow from these, the policy and the time (`enforcement.status_counts`)."""

    exempt: int = 0
    two_factor_on: int = 0
    two_factor_off: int = 0


@dataclass(frozen=True)
class Organization:
    org_id: str
    name: str
    plan: str
    require_two_factor: bool = False
    enforced_at: int | None = None  # every member who owes 2FA has the deadline enforced_at + 30 days
    owners: int = 1
    notice_stage: int = -1  # the last notice stage handed to the queue for this enforcement
    tally: MemberTally | None = None  # counted in the background
    tally_as_of: int | None = None


@dataclass(frozen=True)
class Membership:
    org_id: str
    user_id: str
    email: str
    role: str
    sso: bool
    joined_at: int


@dataclass(frozen=True)
class Invitation:
    org_id: str
    email: str
    role: str
    sso: bool
    token_hash: str  # SHA-256 of the single-use token in the invitation email
    invited_by: str
    expires_at: int


@dataclass(frozen=True)
class AuditEvent:
    subject: str  # the user (or organization) the event is about
    kind: str
    at: int
    actor: str
    details: dict[str, str] = field(default_factory=dict)
    event_id: str = ""  # random: two events of one kind in one second must not collide


# What proved the second factor, for the write that consumes it.
@dataclass(frozen=True)
class TotpStep:
    step: int


@dataclass(frozen=True)
class BackupCodeHash:
    hash: str


Proof = TotpStep | BackupCodeHash


@dataclass(frozen=True)
class NewToken:
    token_hash: str
    kind: str
    expires_at: int
    session_epoch: int


@dataclass(frozen=True)
class DueEntry:
    """One row of the deadline index: an organization whose next notice stage is due, or a
    user whose support reset is."""

    org: Organization | None = None
    reset_user_id: str | None = None
