"""Support-assisted reset: for a user who lost both authenticator and backup codes.

Support records how identity was verified and why; the user is emailed at once and
may cancel; only after the waiting period does the sweep turn 2FA off.
"""

from __future__ import annotations

from typing import Any

from . import notifications, observability, tokens
from .accounts import Principal
from .audit import audit_event
from .clock import format_time
from .dependencies import Dependencies
from .errors import Conflict, Forbidden, NotFound
from .records import PendingReset
from .storage import ConditionFailed


def request_reset(
    deps: Dependencies, principal: Principal, user_id: str, verification_reference: str, reason: str
) -> dict[str, Any]:
    if not principal.state.profile.support:
        raise Forbidden("Only support staff can request a 2FA reset.")
    target = deps.users.load_user(user_id) if tokens.is_id(user_id) else None
    if target is None:
        raise NotFound("No such user.")
    if not target.two_factor_enabled:
        raise Conflict("not_enabled", "This user does not have 2FA on.")
    now = deps.clock.now()
    reset = PendingReset(
        reset_id=tokens.new_id(deps.randomness),
        effective_at=now + deps.settings.support_reset_hours * 3600,
        requested_by=principal.user_id,
    )
    details = {"verification_reference": verification_reference, "reason": reason}
    audit = audit_event(deps, user_id, "support_reset_requested", principal.user_id, {"id": reset.reset_id, **details})
    try:
        deps.resets.put_pending_reset(user_id, reset, details, audit)
    except ConditionFailed:
        raise Conflict("not_enabled", "This user does not have 2FA on.") from None
    observability.count(observability.RESETS_REQUESTED)
    deps.mailer.send(notifications.support_reset_requested(target.profile.email, reset.effective_at))
    return {"reset_id": reset.reset_id, "status": "pending", "effective_at": format_time(reset.effective_at)}


def cancel_reset(deps: Dependencies, principal: Principal) -> dict[str, str]:
    try:
        deps.resets.cancel_reset(principal.user_id, audit_event(deps, principal.user_id, "support_reset_cancelled"))
    except ConditionFailed:
        raise Conflict("no_pending_reset", "There is no pending 2FA reset to cancel.") from None
    deps.mailer.send(notifications.support_reset_cancelled(principal.email))
    return {"status": "cancelled"}


def complete_due_reset(deps: Dependencies, user_id: str) -> bool:
    """Turn 2FA off for a user whose reset is due. False if it was cancelled, is not yet
    due, or another worker completed it first. In an organization that requires 2FA the
    user then owes it under that organization's deadline: past it, they enroll at their
    next sign-in, which the completion email says."""
    now = deps.clock.now()
    state = deps.users.load_user(user_id)
    reset = state.pending_reset if state else None
    if state is None or reset is None or reset.effective_at > now:
        return False
    epoch = (state.profile.session_epoch, state.profile.session_epoch + 1)
    audit = audit_event(deps, user_id, "support_reset_completed", reset.requested_by, {"id": reset.reset_id})
    try:
        deps.resets.complete_reset(user_id, reset.reset_id, epoch, audit)
    except ConditionFailed:
        return False
    observability.count(observability.RESETS_COMPLETED)
    deps.mailer.send(notifications.support_reset_completed(state.profile.email))
    return True
