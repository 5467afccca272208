"""Membership with consent: invitations, accepting or declining them, roles, leaving and removal.

Nobody becomes a member without accepting an invitation sent to their mailbox (B11): the
email carries a single-use token, and accepting needs it and an account with that address.
While an organization requires 2FA, a new member who would owe it must turn it on first
(S19, "new members must enroll before joining"); accepting and role changes re-check that
in their transactions, so no race leaves a member owing 2FA without it (B12).
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from . import enforcement, notifications, tokens
from .accounts import Principal
from .audit import audit_event
from .clock import format_time
from .dependencies import Dependencies
from .errors import Conflict, Forbidden, NotFound, TooManyInvitations
from .organizations import member_row, member_status, visible_deadline
from .records import Invitation, Membership, Organization
from .storage import ConditionFailed
from .storage.organizations import EXEMPT_JOIN, JOIN_WHILE_NOT_REQUIRED, JOIN_WITH_TWO_FACTOR

logger = logging.getLogger(__name__)

INVITATION_SECONDS = 7 * 86400
HOUR = 3600
DAY = 86400
ORGANIZATION_DAILY_INVITATIONS = 100
INVITER_HOURLY_INVITATIONS = 20
NO_USER = "00000000-0000-4000-8000-000000000000"  # looked up for an address without an account


# -- inviting -----------------------------------------------------------------------------------


def invite(
    deps: Dependencies, principal: Principal, org_id: str, email: str, role: str, sso: bool, web_url: str
) -> dict[str, Any]:
    """Owners invite members and admins; admins invite members. The same work and the same reply
    whether or not the address has an account, so inviting tells nobody who has one."""
    org, inviter = _organization_and_role(deps, principal, org_id)
    if inviter.role not in enforcement.MANAGERS or (role == "admin" and inviter.role != "owner"):
        raise Forbidden("Only owners may invite admins, and only owners and admins may invite.")
    user_id = deps.users.user_id_for_email(email)
    if deps.orgs.get_membership(org_id, user_id or NO_USER) is not None:
        raise Conflict("already_member", "This address belongs to a member already.")

    now = deps.clock.now()
    token = tokens.new_secret_token(deps.randomness)
    invitation = Invitation(
        org_id, email, role, sso, tokens.token_hash(token), principal.user_id, now + INVITATION_SECONDS
    )
    limits = [
        (f"org#{org_id}", *_window(now, DAY), ORGANIZATION_DAILY_INVITATIONS),
        (f"inviter#{principal.user_id}", *_window(now, HOUR), INVITER_HOURLY_INVITATIONS),
    ]
    event = audit_event(deps, org_id, "member_invited", principal.user_id, {"email": email, "role": role})
    try:
        deps.invitations.put_invitation(invitation, limits, event)
    except ConditionFailed as failed:
        window_ends = {scope: end for scope, _, end, _ in limits}
        ends = [window_ends[part.removeprefix("limit:")] for part in failed.parts if part.startswith("limit:")]
        raise TooManyInvitations(max(ends) - now) from None
    link = f"{web_url.rstrip('/')}/#invitation={org_id}&token={token}"
    deps.mailer.send(notifications.invitation(email, org.name, principal.email, role, link, invitation.expires_at))
    return {
        "org_id": org_id,
        "email": email,
        "role": role,
        "sso": sso,
        "expires_at": format_time(invitation.expires_at),
    }


def my_invitations(deps: Dependencies, principal: Principal) -> dict[str, Any]:
    now = deps.clock.now()
    valid = [i for i in deps.invitations.invitations_for(principal.email) if i.expires_at > now]
    orgs = deps.orgs.get_organizations([i.org_id for i in valid])
    return {
        "invitations": [
            {
                "org_id": i.org_id,
                "name": orgs[i.org_id].name,
                "role": i.role,
                "sso": i.sso,
                "require_two_factor": orgs[i.org_id].require_two_factor,
                "expires_at": format_time(i.expires_at),
            }
            for i in valid
            if i.org_id in orgs
        ]
    }


# -- the invitee's answer -----------------------------------------------------------------------


def accept(deps: Dependencies, principal: Principal, org_id: str, token: str) -> dict[str, Any]:
    now = deps.clock.now()
    invitation = _valid_invitation(deps, principal, org_id, now)
    if not hmac.compare_digest(invitation.token_hash, tokens.token_hash(token)):
        raise _no_invitation()
    org = deps.orgs.get_organization(org_id)
    if org is None:
        raise _no_invitation()
    enabled = principal.state.two_factor_enabled
    member = Membership(org_id, principal.user_id, principal.email, invitation.role, invitation.sso, now)
    event = audit_event(
        deps, org_id, "invitation_accepted", principal.user_id, {"user_id": principal.user_id, "role": member.role}
    )
    try:
        deps.invitations.accept(invitation, member, membership_guard(org, member, enabled), now, event)
    except ConditionFailed as failed:
        if "member" in failed.parts:
            raise Conflict("already_member", "You are a member of this organization already.") from None
        if "invitation" in failed.parts:
            raise _no_invitation() from None  # replaced, declined or used meanwhile
        raise _two_factor_required() from None  # 2FA turned off, or enforcement on, meanwhile
    _tell_inviter(deps, invitation, notifications.invitation_accepted, org.name, principal.email)
    return {
        "org_id": org_id,
        "name": org.name,
        "role": member.role,
        "status": member_status(org, member, enabled, now),
        "deadline": format_time(visible_deadline(org, member, enabled)),
    }


def decline(deps: Dependencies, principal: Principal, org_id: str) -> None:
    now = deps.clock.now()
    invitation = _valid_invitation(deps, principal, org_id, now)
    event = audit_event(deps, org_id, "invitation_declined", principal.user_id, {"user_id": principal.user_id})
    try:
        deps.invitations.decline(principal.email, org_id, now, event)
    except ConditionFailed:
        raise _no_invitation() from None
    org = deps.orgs.get_organization(org_id)
    _tell_inviter(deps, invitation, notifications.invitation_declined, org.name if org else "", principal.email)


def membership_guard(org: Organization, member: Membership, two_factor_enabled: bool) -> str:
    """What the write must find unchanged for this membership to keep DESIGN.md's invariant;
    409 two_factor_required if it would owe 2FA now without it."""
    if enforcement.is_exempt(member.role, member.sso):
        return EXEMPT_JOIN
    if two_factor_enabled:
        return JOIN_WITH_TWO_FACTOR
    if org.require_two_factor:
        raise _two_factor_required()
    return JOIN_WHILE_NOT_REQUIRED


# -- roles, leaving and removal -----------------------------------------------------------------


def change_member(
    deps: Dependencies, principal: Principal, org_id: str, user_id: str, role: str | None, sso: bool | None
) -> dict[str, Any]:
    """Owners change a member's role or SSO flag. Never the last owner away; never a change that
    makes a member owe 2FA under enforcement while it is off."""
    org, actor = _organization_and_role(deps, principal, org_id)
    if actor.role != "owner":
        raise Forbidden("Only owners may change roles.")
    before = _member(deps, org_id, user_id)
    after = Membership(
        org_id, user_id, before.email, role or before.role, before.sso if sso is None else sso, before.joined_at
    )
    if after == before:
        return member_row(org, after, _two_factor_on(deps, user_id), deps.clock.now())
    enabled = _two_factor_on(deps, user_id)
    owners_change = (after.role == "owner") - (before.role == "owner")
    details = {"user_id": user_id, "role": after.role, "sso": str(after.sso).lower()}
    event = audit_event(deps, org_id, "member_changed", principal.user_id, details)
    try:
        guard = membership_guard(org, after, enabled)
    except Conflict:
        raise _owes_two_factor() from None
    try:
        deps.orgs.change_member(before, after, guard, owners_change, event)
    except ConditionFailed as failed:
        if "member" in failed.parts:
            raise NotFound("This member changed or left meanwhile; read the list again.") from None
        if "owners_or_policy" in failed.parts:
            current = deps.orgs.get_organization(org_id)
            failed.parts.add("policy" if current is not None and current.require_two_factor else "owners")
        if "owners" in failed.parts:
            raise _last_owner() from None
        raise _owes_two_factor() from None
    deps.mailer.send(notifications.membership_changed(after.email, org.name, after.role, after.sso))
    return member_row(org, after, enabled, deps.clock.now())


def remove_member(deps: Dependencies, principal: Principal, org_id: str, user_id: str) -> None:
    """Owners remove anyone, admins remove members, and everyone may leave. Never the last owner."""
    org, actor = _organization_and_role(deps, principal, org_id)
    member = _member(deps, org_id, user_id)
    leaving = user_id == principal.user_id
    allowed = leaving or actor.role == "owner" or (actor.role == "admin" and member.role == "member")
    if not allowed:
        raise Forbidden("Owners remove anyone, admins remove members, and members may only leave.")
    kind = "member_left" if leaving else "member_removed"
    event = audit_event(deps, org_id, kind, principal.user_id, {"user_id": user_id, "role": member.role})
    try:
        deps.orgs.remove_member(member, event)
    except ConditionFailed as failed:
        if "owners" in failed.parts:
            raise _last_owner() from None
        raise NotFound("This member changed or left meanwhile; read the list again.") from None
    if not leaving:
        deps.mailer.send(notifications.member_removed(member.email, org.name))


# -- shared -------------------------------------------------------------------------------------


def _organization_and_role(deps: Dependencies, principal: Principal, org_id: str) -> tuple[Organization, Membership]:
    """The organization and the caller's membership in it; 403 for a caller who is not a member."""
    org = deps.orgs.get_organization(org_id) if tokens.is_id(org_id) else None
    if org is None:
        raise NotFound("No such organization.")
    membership = deps.orgs.get_membership(org_id, principal.user_id)
    if membership is None:
        raise Forbidden("Only the organization's members can do this.")
    return org, membership


def _member(deps: Dependencies, org_id: str, user_id: str) -> Membership:
    member = deps.orgs.get_membership(org_id, user_id) if tokens.is_id(user_id) else None
    if member is None:
        raise NotFound("No such member.")
    return member


def _two_factor_on(deps: Dependencies, user_id: str) -> bool:
    return user_id in deps.second_factors.enabled_among([user_id])


def _valid_invitation(deps: Dependencies, principal: Principal, org_id: str, now: int) -> Invitation:
    invitation = deps.invitations.get_invitation(principal.email, org_id) if tokens.is_id(org_id) else None
    if invitation is None or invitation.expires_at <= now:  # TTL deletes late: expired means absent
        raise _no_invitation()
    return invitation


def _tell_inviter(deps: Dependencies, invitation: Invitation, email: Any, org_name: str, member_email: str) -> None:
    inviter = deps.users.get_profile(invitation.invited_by)
    if inviter is not None:
        deps.mailer.send(email(inviter.email, member_email, org_name))


def _window(now: int, length: int) -> tuple[int, int]:
    start = now - now % length
    return start, start + length


def _no_invitation() -> NotFound:
    return NotFound("There is no such invitation for your address, or the token does not match it.")


def _two_factor_required() -> Conflict:
    return Conflict(
        "two_factor_required",
        "This organization requires 2FA: new members must enroll before joining. Turn it on in "
        "Settings → Security, then accept the invitation again.",
    )


def _owes_two_factor() -> Conflict:
    return Conflict(
        "two_factor_required",
        "This organization requires 2FA, and this change would make the member owe it: they must turn it on first.",
    )


def _last_owner() -> Conflict:
    return Conflict("last_owner", "An organization must keep at least one owner.")
