"""Organization enforcement rules: member status, deadlines and which notice is due.

Pure functions of plain values and the time, so the API, the sweep and the
notebooks all answer these questions the same way.
"""

from __future__ import annotations

DAY = 86400
GRACE_PERIOD_DAYS = 30
BUSINESS_PLUS = frozenset({"business", "enterprise"})
PLANS = ("free", "team", "business", "enterprise")
ROLES = ("owner", "admin", "member")
MANAGERS = frozenset({"owner", "admin"})

# The notices a pending member receives, in order: days before the deadline.
# The last one (0 days) is the lockout notice.
NOTICE_DAYS = (7, 3, 1, 0)

COMPLIANT = "compliant"
PENDING = "pending"
LOCKED = "locked"
EXEMPT = "exempt"
NOT_REQUIRED = "not_required"


def is_exempt(role: str, sso: bool) -> bool:
    """SSO members rely on their identity provider's second factor. Owners and admins can
    still sign in with a password, so they are never exempt."""
    return sso and role == "member"


def enforcement_status(
    *, required: bool, role: str, sso: bool, two_factor_enabled: bool, deadline: int | None, now: int
) -> str:
    if not required:
        return NOT_REQUIRED
    if is_exempt(role, sso):
        return EXEMPT
    if two_factor_enabled:
        return COMPLIANT
    if deadline is not None and deadline <= now:
        return LOCKED
    return PENDING


def deadline_when_enforcement_starts(now: int) -> int:
    return now + GRACE_PERIOD_DAYS * DAY


def owes_enrollment(*, required: bool, role: str, sso: bool, two_factor_enabled: bool) -> bool:
    return required and not is_exempt(role, sso) and not two_factor_enabled


def notice_time(deadline: int, stage: int) -> int:
    return deadline - NOTICE_DAYS[stage] * DAY


def next_notice_at(deadline: int, stage_sent: int) -> int | None:
    """When the next notice falls due after `stage_sent` (-1: none sent yet); None when done."""
    following = stage_sent + 1
    return notice_time(deadline, following) if following < len(NOTICE_DAYS) else None


def notice_due(deadline: int, stage_sent: int, now: int) -> int | None:
    """The most urgent notice due now and not yet sent, or None. After missed sweeps the
    earlier notices are skipped: only the most urgent one goes out."""
    due = [stage for stage in range(len(NOTICE_DAYS)) if notice_time(deadline, stage) <= now]
    if not due or due[-1] <= stage_sent:
        return None
    return due[-1]


def earliest_deadline(deadlines: list[int]) -> int | None:
    return min(deadlines) if deadlines else None
