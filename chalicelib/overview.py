"""`GET /v1/me/security`: the signed-in user's 2FA state, organizations and pending reset.
Never includes the secret or a backup code."""

from __future__ import annotations

from typing import Any

from .accounts import Principal
from .clock import format_time
from .dependencies import Dependencies
from .errors import Unauthorized
from .organizations import member_status, visible_deadline


def security_overview(deps: Dependencies, principal: Principal) -> dict[str, Any]:
    state = deps.users.load_user(principal.user_id)
    if state is None:
        raise Unauthorized()
    enabled = state.two_factor_enabled
    pairs = deps.orgs.organizations_of(principal.user_id, state.org_ids)
    now = deps.clock.now()
    reset = state.pending_reset
    return {
        "user_id": principal.user_id,
        "email": state.profile.email,
        "two_factor": {
            "enabled": enabled,
            "enabled_at": format_time(state.totp.enabled_at) if state.totp and enabled else None,
            "backup_codes_remaining": state.backup_codes_remaining,
        },
        "organizations": [
            {
                "org_id": org.org_id,
                "name": org.name,
                "role": member.role,
                "require_two_factor": org.require_two_factor,
                "status": member_status(org, member, enabled, now),
                "deadline": format_time(visible_deadline(org, member, enabled)),
            }
            for org, member in pairs
        ],
        "pending_reset": {"reset_id": reset.reset_id, "effective_at": format_time(reset.effective_at)}
        if reset
        else None,
    }
