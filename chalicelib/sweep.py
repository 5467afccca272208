"""The hourly enforcement sweep: reminders at 7, 3 and 1 days, the lockout notice, and
support resets whose time has come.

It reads only the deadline index, so its cost follows the members it acts on.
Each notice is claimed with a conditional write before it is sent, so two sweeps
never send it twice; if the email fails the claim is released and the next run
sends it.
"""

from __future__ import annotations

import dataclasses
import logging

from . import enforcement, notifications
from .dependencies import Dependencies
from .records import Membership, Organization
from .repository import ConditionFailed
from .support import complete_due_reset

logger = logging.getLogger(__name__)

LOCKOUT_STAGE = len(enforcement.NOTICE_DAYS) - 1


def run(deps: Dependencies) -> dict[str, int]:
    counts = {"reminders_sent": 0, "lockouts": 0, "resets_completed": 0}
    budget = deps.settings.sweep_batch_size  # the rest waits for the next run
    now = deps.clock.now()
    for shard in range(deps.settings.deadline_shards):
        if budget <= 0:
            break
        entries = deps.repository.due_entries(shard, now, budget)
        budget -= len(entries)
        members = [entry.member for entry in entries if entry.member is not None]
        for entry in entries:
            if entry.member is None and complete_due_reset(deps, entry.user_id):
                counts["resets_completed"] += 1
        if members:
            organizations = deps.repository.get_organizations(m.org_id for m in members)
            enrolled = deps.repository.two_factor_enabled(m.user_id for m in members)
            for member in members:
                sent = _notify(deps, member, organizations.get(member.org_id), member.user_id in enrolled, now)
                if sent is not None:
                    counts["lockouts" if sent == LOCKOUT_STAGE else "reminders_sent"] += 1
    logger.info("enforcement sweep: %s", counts)
    return counts


def _notify(deps: Dependencies, member: Membership, org: Organization | None, enrolled: bool, now: int) -> int | None:
    """Send the member's most urgent due notice; the stage sent, or None."""
    try:
        if (
            org is None
            or member.deadline is None
            or not enforcement.owes_enrollment(
                required=org.require_two_factor, role=member.role, sso=member.sso, two_factor_enabled=enrolled
            )
        ):
            deps.repository.leave_deadline_index(member)  # enrolled, exempt, or no longer required
            return None
        stage = enforcement.notice_due(member.deadline, member.notice_stage, now)
        if stage is None:
            return None
        deps.repository.record_notice(member, stage, enforcement.next_notice_at(member.deadline, stage))
    except ConditionFailed:
        return None  # another sweep, or a policy change, got there first
    if deps.mailer.send(_email(member, org, stage)):
        return stage
    # Not sent: release the claim so the next run tries again.
    claimed = dataclasses.replace(member, notice_stage=stage)
    try:
        deps.repository.record_notice(
            claimed, member.notice_stage, enforcement.next_notice_at(member.deadline, member.notice_stage)
        )
    except ConditionFailed:
        logger.warning("could not release the notice claim of a member of org %s", member.org_id)
    return None


def _email(member: Membership, org: Organization, stage: int) -> notifications.Email:
    assert member.deadline is not None
    if stage == LOCKOUT_STAGE:
        return notifications.enforcement_lockout(member.email, org.name)
    return notifications.enforcement_reminder(member.email, org.name, member.deadline, enforcement.NOTICE_DAYS[stage])
