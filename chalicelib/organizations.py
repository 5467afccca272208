"""Organizations: creation, members, and the Require-2FA policy with its grace period.

No request here does work that grows with the organization's size: the policy is one
item, a member's deadline is derived from it, member listings are paged, counts are
taken in the background, and emails are sent by the queue worker.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import json
import logging
from typing import Any

from . import enforcement, tokens
from .accounts import Principal
from .audit import audit_event
from .clock import format_time
from .dependencies import Dependencies
from .errors import Conflict, Forbidden, InvalidRequest, NotFound, PlanRequired, ServiceError, TemporarilyUnavailable
from .records import Membership, MemberTally, Organization
from .storage import ConditionFailed
from .worker import fanout_message, recount_message

logger = logging.getLogger(__name__)

PLANS = enforcement.PLANS
PAGE_LIMIT_DEFAULT = 50
PAGE_LIMIT_MAX = 100
# A status filter reads members in chunks and keeps the matching ones; a page stops after
# this many members read, so a rare status costs bounded work per request (the page may
# then be short, with a cursor to go on).
FILTER_READ_LIMIT = 500
FILTER_CHUNK = 100
RECOUNT_AFTER_SECONDS = 15 * 60  # counts older than this are taken again in the background


def create(deps: Dependencies, principal: Principal, name: str, plan: str) -> dict[str, Any]:
    now = deps.clock.now()
    org = Organization(tokens.new_id(deps.randomness), name, plan, owners=1)
    owner = Membership(org.org_id, principal.user_id, principal.email, "owner", sso=False, joined_at=now)
    enabled = principal.state.two_factor_enabled
    tally = MemberTally(two_factor_on=1 if enabled else 0, two_factor_off=0 if enabled else 1)
    try:
        deps.orgs.create_organization(org, owner, tally, now)
    except ConditionFailed:
        # A new random id taken, or the caller's account gone: nothing was written, and a
        # retry draws a new id.
        raise TemporarilyUnavailable() from None
    return {"org_id": org.org_id, "name": org.name, "plan": org.plan}


# -- the policy ---------------------------------------------------------------------------------


def set_policy(deps: Dependencies, principal: Principal, org_id: str, required: bool) -> dict[str, Any]:
    org = _managed_organization(deps, principal, org_id)
    if required and org.plan not in enforcement.BUSINESS_PLUS:
        raise PlanRequired()
    if required and not principal.state.two_factor_enabled:
        raise Conflict("actor_two_factor_required", "Turn on 2FA for your own account before requiring it.")
    if required == org.require_two_factor:
        return _policy_summary(org)  # unchanged: the deadline already given stays as it is

    now = deps.clock.now()
    updated = dataclasses.replace(
        org, require_two_factor=required, enforced_at=now if required else None, notice_stage=-1
    )
    event = audit_event(deps, org_id, "enforcement_started" if required else "enforcement_stopped", principal.user_id)
    try:
        deps.orgs.set_enforcement(updated, org.require_two_factor, event)
    except ConditionFailed:
        # The condition is on the old value, so another owner or admin just made this same
        # change: theirs stands, with its deadline, and is this caller's answer too.
        current = deps.orgs.get_organization(org_id)
        return _policy_summary(current or updated)
    if required:
        hand_notice_to_queue(deps, updated, enforcement.STARTED)
    return _policy_summary(updated)


def hand_notice_to_queue(deps: Dependencies, org: Organization, stage: int) -> bool:
    """Enqueue the fan-out of one notice stage, then record it as handed over. In that order:
    a failure in between leaves the stage due, and the next hourly run enqueues it again;
    the worker's claims make sure nobody gets it twice. False if the queue is unavailable."""
    assert org.enforced_at is not None
    try:
        deps.queue.send([fanout_message(org.org_id, org.enforced_at, stage)])
    except ServiceError:
        logger.warning("notice stage %d of org %s stays due: the queue is unavailable", stage, org.org_id)
        return False
    # If another run handed it over first, or the policy changed, the worker sees it.
    with contextlib.suppress(ConditionFailed):
        deps.orgs.advance_notice_stage(org, stage)
    return True


def policy(deps: Dependencies, principal: Principal, org_id: str) -> dict[str, Any]:
    org = _managed_organization(deps, principal, org_id)
    now = deps.clock.now()
    if org.tally_as_of is None or org.tally_as_of < now - RECOUNT_AFTER_SECONDS:
        _ask_for_recount(deps, org_id, now)
    counts = enforcement.status_counts(
        required=org.require_two_factor, enforced_at=org.enforced_at, tally=org.tally or MemberTally(), now=now
    )
    return {**_policy_summary(org), "counts": counts, "counts_as_of": format_time(org.tally_as_of)}


def _ask_for_recount(deps: Dependencies, org_id: str, now: int) -> None:
    """Best effort, at most once per RECOUNT_AFTER_SECONDS: the answer carries the old counts."""
    try:
        if deps.orgs.claim_recount(org_id, now, now - RECOUNT_AFTER_SECONDS):
            deps.queue.send([recount_message(org_id, now)])
    except ServiceError:
        logger.warning("could not ask for a recount of org %s", org_id)


# -- the member list ----------------------------------------------------------------------------


def members_page(
    deps: Dependencies, principal: Principal, org_id: str, limit: int, cursor: str | None, status: str | None
) -> dict[str, Any]:
    """One page of members in a stable order, with an opaque cursor to the next page.
    With a status filter a page may hold fewer than `limit` members and still be followed
    by another: go on while `next_cursor` is not null."""
    org = _managed_organization(deps, principal, org_id)
    after = decode_cursor(cursor, org_id, status) if cursor else None
    now = deps.clock.now()
    if status is not None and not _status_possible(org, status, now):
        return {"members": [], "next_cursor": None}

    rows: list[dict[str, Any]] = []
    read = 0
    # One more than a page, so a full last page is known to be the last.
    chunk = limit + 1 if status is None else FILTER_CHUNK
    while True:
        members, last = deps.orgs.members_page(org_id, after, chunk)
        enabled = deps.second_factors.enabled_among([m.user_id for m in members])
        for member in members:
            read += 1
            row = member_row(org, member, member.user_id in enabled, now)
            if status is None or row["status"] == status:
                if len(rows) == limit:
                    return _page(rows, org_id, status, after)  # a match beyond this page: there is more
                rows.append(row)
            after = member.user_id
        if last is None:
            return {"members": rows, "next_cursor": None}
        if read >= FILTER_READ_LIMIT or (status is None and len(rows) == limit):
            return _page(rows, org_id, status, after)


def _page(rows: list[dict[str, Any]], org_id: str, status: str | None, after: str | None) -> dict[str, Any]:
    """A page followed by more: the cursor continues after the last member read."""
    assert after is not None
    return {"members": rows, "next_cursor": encode_cursor(org_id, after, status)}


def member_row(org: Organization, member: Membership, two_factor_enabled: bool, now: int) -> dict[str, Any]:
    return {
        "user_id": member.user_id,
        "email": member.email,
        "role": member.role,
        "sso": member.sso,
        "two_factor_enabled": two_factor_enabled,
        **_status_and_deadline(org, member, two_factor_enabled, now),
    }


def _status_possible(org: Organization, status: str, now: int) -> bool:
    """The deadline is the organization's: at any moment only some statuses can occur."""
    if not org.require_two_factor:
        return status == enforcement.NOT_REQUIRED
    if status == enforcement.NOT_REQUIRED:
        return False
    assert org.enforced_at is not None
    passed = enforcement.deadline(org.enforced_at) <= now
    return not (status == enforcement.PENDING and passed) and not (status == enforcement.LOCKED and not passed)


def encode_cursor(org_id: str, after: str, status: str | None) -> str:
    raw = json.dumps({"org": org_id, "after": after, "status": status}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, org_id: str, status: str | None) -> str:
    """The member to continue after. A cursor that was not ours for this listing is a 400:
    it can never reach another organization's members."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        fields = json.loads(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _bad_cursor() from None
    if (
        not isinstance(fields, dict)
        or fields.get("org") != org_id
        or fields.get("status") != status
        or not isinstance(fields.get("after"), str)
        or not tokens.is_id(fields["after"])
    ):
        raise _bad_cursor()
    after: str = fields["after"]
    return after


def _bad_cursor() -> InvalidRequest:
    return InvalidRequest("Parameter cursor is not a next_cursor of this listing.")


# -- shared -------------------------------------------------------------------------------------


def member_status(org: Organization, member: Membership, two_factor_enabled: bool, now: int) -> str:
    return enforcement.enforcement_status(
        required=org.require_two_factor,
        enforced_at=org.enforced_at,
        role=member.role,
        sso=member.sso,
        two_factor_enabled=two_factor_enabled,
        now=now,
    )


def visible_deadline(org: Organization, member: Membership, two_factor_enabled: bool) -> int | None:
    """A deadline is shown only while the member still owes enrollment."""
    return enforcement.member_deadline(
        required=org.require_two_factor,
        enforced_at=org.enforced_at,
        role=member.role,
        sso=member.sso,
        two_factor_enabled=two_factor_enabled,
    )


def _status_and_deadline(org: Organization, member: Membership, two_factor_enabled: bool, now: int) -> dict[str, Any]:
    return {
        "status": member_status(org, member, two_factor_enabled, now),
        "deadline": format_time(visible_deadline(org, member, two_factor_enabled)),
    }


def _managed_organization(deps: Dependencies, principal: Principal, org_id: str) -> Organization:
    org = deps.orgs.get_organization(org_id) if tokens.is_id(org_id) else None
    if org is None:
        raise NotFound("No such organization.")
    membership = deps.orgs.get_membership(org_id, principal.user_id)
    if membership is None or membership.role not in enforcement.MANAGERS:
        raise Forbidden("Only the organization's owners and admins can do this.")
    return org


def _policy_summary(org: Organization) -> dict[str, Any]:
    return {
        "require_two_factor": org.require_two_factor,
        "enforced_at": format_time(org.enforced_at),
        "grace_period_days": enforcement.GRACE_PERIOD_DAYS,
        "deadline": format_time(enforcement.deadline(org.enforced_at) if org.enforced_at is not None else None),
    }
