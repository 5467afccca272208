"""Organization enforcement rules: member status, the deadline, and which notice is due.

Pure functions of plain values and the time, so the API, the hourly function, the queue
worker and the notebooks all answer these questions the same way.

The deadline is the organization's, not the member's: every member who owes 2FA has the
deadline `enforced_at` + 30 days. Nothing is written per member when enforcement starts,
so turning it on costs the same for 10 members as for 100,000.
"""

from __future__ import annotations

from .records import MemberTally

DAY = 86400
GRACE_PERIOD_DAYS = 30
BUSINESS_PLUS = frozenset({"business", "enterprise"})
PLANS = ("free", "team", "business", "enterprise")
ROLES = ("owner", "admin", "member")
MANAGERS = frozenset({"owner", "admin"})

# The notices a member who owes 2FA receives, in order, as days before the deadline:
# "enforcement started" (at once, whatever the grace period), the reminders at 7, 3 and
# 1 days, and the lockout notice at the deadline.
STARTED, LOCKOUT = 0, 4
NOTICE_DAYS = (GRACE_PERIOD_DAYS, 7, 3, 1, 0)

COMPLIANT = "compliant"
PENDING = "pending"
LOCKED = "locked"
EXEMPT = "exempt"
NOT_REQUIRED = "not_required"
STATUSES = (COMPLIANT, PENDING, LOCKED, EXEMPT, NOT_REQUIRED)


def is_exempt(role: str, sso: bool) -> bool:
    """SSO members rely on their identity provider's second factor. Owners and admins can
    still sign in with a password, so they are never exempt."""
    return sso and role == "member"


def deadline(enforced_at: int) -> int:
    return enforced_at + GRACE_PERIOD_DAYS * DAY


def owes_enrollment(*, required: bool, role: str, sso: bool, two_factor_enabled: bool) -> bool:
    return required and not is_exempt(role, sso) and not two_factor_enabled


def member_deadline(
    *, required: bool, enforced_at: int | None, role: str, sso: bool, two_factor_enabled: bool
) -> int | None:
    """The member's deadline while they owe 2FA, else None."""
    if enforced_at is None or not owes_enrollment(
        required=required, role=role, sso=sso, two_factor_enabled=two_factor_enabled
    ):
        return None
    return deadline(enforced_at)


def enforcement_status(
    *, required: bool, enforced_at: int | None, role: str, sso: bool, two_factor_enabled: bool, now: int
) -> str:
    if not required:
        return NOT_REQUIRED
    if is_exempt(role, sso):
        return EXEMPT
    if two_factor_enabled:
        return COMPLIANT
    if enforced_at is not None and deadline(enforced_at) <= now:
        return LOCKED
    return PENDING


def status_counts(*, required: bool, enforced_at: int | None, tally: MemberTally, now: int) -> dict[str, int]:
    """Members by status, from the tally: the deadline is the same for every member who owes."""
    counts = dict.fromkeys((COMPLIANT, PENDING, LOCKED, EXEMPT, NOT_REQUIRED), 0)
    if not required:
        counts[NOT_REQUIRED] = tally.exempt + tally.two_factor_on + tally.two_factor_off
        return counts
    counts[EXEMPT] = tally.exempt
    counts[COMPLIANT] = tally.two_factor_on
    owing = LOCKED if enforced_at is not None and deadline(enforced_at) <= now else PENDING
    counts[owing] = tally.two_factor_off
    return counts


def notice_time(enforced_at: int, stage: int) -> int:
    return deadline(enforced_at) - NOTICE_DAYS[stage] * DAY


def next_notice_at(enforced_at: int, stage_sent: int) -> int | None:
    """When the stage after `stage_sent` (-1: none yet) falls due; None when none is left."""
    following = stage_sent + 1
    return notice_time(enforced_at, following) if following < len(NOTICE_DAYS) else None


def notice_due(enforced_at: int, stage_sent: int, now: int) -> int | None:
    """The most urgent notice stage due now and not yet sent, or None. After missed runs
    the earlier stages are skipped: only the most urgent one goes out."""
    due = [stage for stage in range(len(NOTICE_DAYS)) if notice_time(enforced_at, stage) <= now]
    if not due or due[-1] <= stage_sent:
        return None
    return due[-1]


def earliest_deadline(deadlines: list[int]) -> int | None:
    return min(deadlines) if deadlines else None
