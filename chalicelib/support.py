"""Support-assisted reset: for a user who lost both authenticator and backup codes.

Support records how identity was verified and why; the user is emailed at once and
may cancel; only after the waiting period does the sweep turn 2FA off.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from . import enforcement, notifications, tokens
from .accounts import Principal
from .audit import audit_event
from .clock import format_time
from .dependencies import Dependencies
from .errors import Conflict, Forbidden, NotFound
from .organizations import shard_for
from .records import PendingReset
from .repository import ConditionFailed

_USER_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def request_reset(
    deps: Dependencies, principal: Principal, user_id: str, verification_reference: str, reason: str
) -> dict[str, Any]:
    if not principal.state.profile.support:
        raise Forbidden("Only support staff can request a 2FA reset.")
    target = deps.repository.load_user(user_id) if _USER_ID.fullmatch(user_id) else None
    if target is None:
        raise NotFound("No such user.")
    if not target.two_factor_enabled:
        raise Conflict("not_enabled", "This user does not have 2FA on.")
    now = deps.clock.now()
    reset = PendingReset(
        reset_id=tokens.new_id(deps.randomness),
        effective_at=now + deps.settings.support_reset_hours * 3600,
        requested_by=principal.user_id,
        shard=shard_for(user_id, deps.settings.deadline_shards),
    )
    details = {"verification_reference": verification_reference, "reason": reason}
    audit = audit_event(deps, user_id, "support_reset_requested", principal.user_id, {"id": reset.reset_id, **details})
    try:
        deps.repository.put_pending_reset(user_id, reset, details, audit)
    except ConditionFailed:
        raise Conflict("not_enabled", "This user does not have 2FA on.") from None
    deps.mailer.send(notifications.support_reset_requested(target.profile.email, reset.effective_at))
    return {"reset_id": reset.reset_id, "status": "pending", "effective_at": format_time(reset.effective_at)}


def cancel_reset(deps: Dependencies, principal: Principal) -> dict[str, str]:
    try:
        deps.repository.cancel_reset(principal.user_id, audit_event(deps, principal.user_id, "support_reset_cancelled"))
    except ConditionFailed:
        raise Conflict("no_pending_reset", "There is no pending 2FA reset to cancel.") from None
    deps.mailer.send(notifications.support_reset_cancelled(principal.email))
    return {"status": "cancelled"}


def complete_due_reset(deps: Dependencies, user_id: str) -> bool:
    """Turn 2FA off for a user whose reset is due. False if it was cancelled, is not yet
    due, or another sweep completed it first."""
    now = deps.clock.now()
    state = deps.repository.load_user(user_id)
    reset = state.pending_reset if state else None
    if state is None or reset is None or reset.effective_at > now:
        return False
    # An organization that requires 2FA gets the member due at once: enroll at next sign-in.
    # The completion email says so, so no separate lockout notice is sent.
    final_notice = len(enforcement.NOTICE_DAYS) - 1
    due_members = [
        dataclasses.replace(member, deadline=now, notice_stage=final_notice)
        for org, member in (deps.repository.organizations_of(user_id, state.org_ids) if state.org_ids else [])
        if enforcement.owes_enrollment(
            required=org.require_two_factor, role=member.role, sso=member.sso, two_factor_enabled=False
        )
    ]
    epoch = (state.profile.session_epoch, state.profile.session_epoch + 1)
    audit = audit_event(deps, user_id, "support_reset_completed", reset.requested_by, {"id": reset.reset_id})
    try:
        deps.repository.complete_reset(user_id, reset.reset_id, epoch, due_members, audit)
    except ConditionFailed:
        return False
    deps.mailer.send(notifications.support_reset_completed(state.profile.email))
    return True
