"""Organizations: creation, members, and the Require-2FA policy with its grace period."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from . import enforcement, notifications, tokens
from .accounts import Principal
from .audit import audit_event
from .clock import format_time
from .dependencies import Dependencies
from .errors import Conflict, Forbidden, NotFound, PlanRequired
from .records import Membership, Organization
from .repository import ConditionFailed

PLANS = enforcement.PLANS


def shard_for(user_id: str, shards: int) -> int:
    """Spread the deadline index over a few partitions, stably per user."""
    return int(hashlib.sha256(user_id.encode()).hexdigest()[:8], 16) % shards


def create(deps: Dependencies, principal: Principal, name: str, plan: str) -> dict[str, Any]:
    org = Organization(tokens.new_id(deps.randomness), name, plan)
    owner = Membership(
        org.org_id,
        principal.user_id,
        principal.email,
        "owner",
        sso=False,
        joined_at=deps.clock.now(),
        shard=shard_for(principal.user_id, deps.settings.deadline_shards),
    )
    deps.repository.create_organization(org, owner)
    return {"org_id": org.org_id, "name": org.name, "plan": org.plan}


def add_member(
    deps: Dependencies, principal: Principal, org_id: str, email: str, role: str, sso: bool
) -> dict[str, Any]:
    org = _managed_organization(deps, principal, org_id)
    user_id = deps.repository.user_id_for_email(email)
    user = deps.repository.load_user(user_id) if user_id else None
    if user is None:
        raise NotFound("No user has this email.")
    now = deps.clock.now()
    owes = enforcement.owes_enrollment(
        required=org.require_two_factor, role=role, sso=sso, two_factor_enabled=user.two_factor_enabled
    )
    # Joining while enforcement is on: due at once, so the next sign-in asks to enroll.
    member = Membership(
        org_id,
        user.profile.user_id,
        email,
        role,
        sso,
        now,
        deadline=now if owes else None,
        shard=shard_for(user.profile.user_id, deps.settings.deadline_shards),
    )
    try:
        deps.repository.add_member(member)
    except ConditionFailed:
        raise Conflict("already_member", "This user is already a member.") from None
    return {
        "user_id": member.user_id,
        "role": role,
        "sso": sso,
        "status": member_status(org, member, user.two_factor_enabled, now),
        "deadline": format_time(member.deadline),
    }


def set_policy(deps: Dependencies, principal: Principal, org_id: str, required: bool) -> dict[str, Any]:
    org = _managed_organization(deps, principal, org_id)
    if required and org.plan not in enforcement.BUSINESS_PLUS:
        raise PlanRequired()
    if required and not principal.state.two_factor_enabled:
        raise Conflict("actor_two_factor_required", "Turn on 2FA for your own account before requiring it.")
    if required == org.require_two_factor:
        return _policy_summary(org)  # unchanged: deadlines already given stay as they are

    now = deps.clock.now()
    members = deps.repository.members(org_id)
    enabled = deps.repository.two_factor_enabled(m.user_id for m in members)
    updated_org = dataclasses.replace(org, require_two_factor=required, enforced_at=now if required else None)
    deadline = enforcement.deadline_when_enforcement_starts(now)
    updated_members = [
        dataclasses.replace(
            m,
            deadline=deadline
            if enforcement.owes_enrollment(
                required=required, role=m.role, sso=m.sso, two_factor_enabled=m.user_id in enabled
            )
            else None,
            notice_stage=-1,
        )
        for m in members
    ]
    audit = audit_event(deps, org_id, "enforcement_started" if required else "enforcement_stopped", principal.user_id)
    try:
        deps.repository.set_enforcement(updated_org, updated_members, org.require_two_factor, audit)
    except ConditionFailed:
        # The condition is on the old value, so another owner or admin just made this same
        # change: theirs stands, with its deadlines, and is this caller's answer too.
        current = deps.repository.get_organization(org_id)
        return _policy_summary(current or updated_org)
    for member in updated_members:
        if member.deadline is not None:
            deps.mailer.send(notifications.enforcement_started(member.email, org.name, member.deadline))
    return _policy_summary(updated_org)


def policy(deps: Dependencies, principal: Principal, org_id: str) -> dict[str, Any]:
    org = _managed_organization(deps, principal, org_id)
    members = deps.repository.members(org_id)
    enabled = deps.repository.two_factor_enabled(m.user_id for m in members)
    now = deps.clock.now()
    return {
        "require_two_factor": org.require_two_factor,
        "enforced_at": format_time(org.enforced_at),
        "members": [
            {
                "user_id": m.user_id,
                "email": m.email,
                "role": m.role,
                "sso": m.sso,
                "two_factor_enabled": m.user_id in enabled,
                "status": member_status(org, m, m.user_id in enabled, now),
                "deadline": format_time(visible_deadline(org, m, m.user_id in enabled)),
            }
            for m in sorted(members, key=lambda m: (m.joined_at, m.email))
        ],
    }


def visible_deadline(org: Organization, member: Membership, two_factor_enabled: bool) -> int | None:
    """A deadline is shown only while the member still owes enrollment."""
    owes = enforcement.owes_enrollment(
        required=org.require_two_factor, role=member.role, sso=member.sso, two_factor_enabled=two_factor_enabled
    )
    return member.deadline if owes else None


def member_status(org: Organization, member: Membership, two_factor_enabled: bool, now: int) -> str:
    return enforcement.enforcement_status(
        required=org.require_two_factor,
        role=member.role,
        sso=member.sso,
        two_factor_enabled=two_factor_enabled,
        deadline=member.deadline,
        now=now,
    )


def _managed_organization(deps: Dependencies, principal: Principal, org_id: str) -> Organization:
    org = deps.repository.get_organization(org_id)
    if org is None:
        raise NotFound("No such organization.")
    membership = deps.repository.get_membership(org_id, principal.user_id)
    if membership is None or membership.role not in enforcement.MANAGERS:
        raise Forbidden("Only the organization's owners and admins can do this.")
    return org


def _policy_summary(org: Organization) -> dict[str, Any]:
    return {
        "require_two_factor": org.require_two_factor,
        "enforced_at": format_time(org.enforced_at),
        "grace_period_days": enforcement.GRACE_PERIOD_DAYS,
    }
