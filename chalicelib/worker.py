"""The queue worker: the background work of enforcement and support, one message at a time.

Messages (JSON, built by the functions below):

- `fanout`: one page of an organization's members for one notice stage; it enqueues their
  `notices` in batches, and the next page. An organization of 100,000 members is a chain of
  100 pages, each a quick invocation.
- `notices`: a batch of members to send one notice stage. Each notice is claimed with a
  conditional write before its email goes out, so a message delivered twice, two workers,
  or two hourly runs never send it twice. A failed email releases its claim and the message
  fails, so SQS delivers it again (and, after a few tries, to the dead-letter queue).
- `reset`: complete one support reset whose time has come.
- `count`: one page of an organization's members counted by status; the last page stores
  the count, which `GET /v1/orgs/{id}/security` answers with.
- `password_pause`: email an account's owner that wrong passwords paused signing in. The
  password step sends one whenever a pause starts and the owner was not told of one that day,
  also for an address without an account (with no recipient), so that its requests do not
  tell which addresses have one.

An email is sent at most once: a worker killed between claiming a notice and sending it
loses that one email rather than risk a second copy.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

from . import enforcement, notifications, observability, tokens
from .dependencies import Dependencies
from .records import MemberTally, Organization

logger = logging.getLogger(__name__)

FANOUT_PAGE = 1000  # members read per fan-out message
NOTICE_BATCH = 25  # members per notices message: a quick invocation, even paced
COUNT_PAGE = 1000


class NoticesNotSent(Exception):
    """Some emails of a batch failed; their claims were released. Raised so that SQS delivers
    the message again; the members already emailed are skipped then."""


# -- messages -----------------------------------------------------------------------------------


def fanout_message(org_id: str, enforced_at: int, stage: int, after: str | None = None) -> dict[str, Any]:
    return {"kind": "fanout", "org_id": org_id, "enforced_at": enforced_at, "stage": stage, "after": after}


def notices_message(org_id: str, enforced_at: int, stage: int, members: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "kind": "notices",
        "org_id": org_id,
        "enforced_at": enforced_at,
        "stage": stage,
        "members": [list(member) for member in members],  # [user_id, email]
    }


def reset_message(user_id: str) -> dict[str, Any]:
    return {"kind": "reset", "user_id": user_id}


def recount_message(
    org_id: str, as_of: int, after: str | None = None, tally: MemberTally | None = None
) -> dict[str, Any]:
    return {
        "kind": "count",
        "org_id": org_id,
        "as_of": as_of,
        "after": after,
        "tally": dataclasses.asdict(tally or MemberTally()),
    }


def password_pause_message(to: str | None, until: int) -> dict[str, Any]:
    return {"kind": "password_pause", "to": to, "until": until}


# -- handling -----------------------------------------------------------------------------------


def handle(deps: Dependencies, message: dict[str, Any]) -> dict[str, int]:
    """Do the work one message asks for; what was done, by name."""
    handlers: dict[str, Callable[[Dependencies, dict[str, Any]], dict[str, int]]] = {
        "fanout": _fan_out,
        "notices": _send_notices,
        "reset": _complete_reset,
        "count": _count,
        "password_pause": _send_password_pause,
    }
    handler = handlers.get(message.get("kind", ""))
    if handler is None:
        logger.error("dropped a message of unknown kind")
        return {}
    return handler(deps, message)


def _fan_out(deps: Dependencies, message: dict[str, Any]) -> dict[str, int]:
    org_id, enforced_at, stage = message["org_id"], message["enforced_at"], message["stage"]
    if _current_organization(deps, org_id, enforced_at, stage) is None:
        return {"stale": 1}
    members, last = deps.orgs.members_page(org_id, message["after"], FANOUT_PAGE)
    owing = [(m.user_id, m.email) for m in members if not enforcement.is_exempt(m.role, m.sso)]
    messages = [
        notices_message(org_id, enforced_at, stage, owing[start : start + NOTICE_BATCH])
        for start in range(0, len(owing), NOTICE_BATCH)
    ]
    if last is not None:
        messages.append(fanout_message(org_id, enforced_at, stage, after=last))
    deps.queue.send(messages)
    return {"members_read": len(members), "batches": len(messages) - (last is not None)}


def _send_notices(deps: Dependencies, message: dict[str, Any]) -> dict[str, int]:
    org_id, enforced_at, stage = message["org_id"], message["enforced_at"], message["stage"]
    org = _current_organization(deps, org_id, enforced_at, stage)
    if org is None:
        return {"stale": 1}
    deadline = enforcement.deadline(enforced_at)
    current = deps.orgs.current_members(org_id, [user_id for user_id, _ in message["members"]])
    pacer = Pacer(deps.settings.ses_sends_per_second / max(1, deps.settings.worker_concurrency))
    sent = unsent = 0
    for user_id, email in message["members"]:
        found = current.get(user_id)
        if found is None:
            continue  # left or was removed since the fan-out read them
        member, two_factor_enabled = found
        if not enforcement.owes_enrollment(
            required=True, role=member.role, sso=member.sso, two_factor_enabled=two_factor_enabled
        ):
            continue
        claim_id = tokens.new_id(deps.randomness)
        if not deps.notices.claim(user_id, deadline, stage, org_id, claim_id, deps.clock.now()):
            continue  # sent already, by another worker or an earlier delivery
        pacer.wait()
        if deps.mailer.send(notice_email(email, org, stage)):
            sent += 1
        else:
            deps.notices.release(user_id, deadline, stage, claim_id)
            unsent += 1
    observability.count(observability.NOTICES_SENT, sent)
    if unsent:
        raise NoticesNotSent(f"{unsent} of the batch's notices were not sent")
    return {"notices_sent": sent}


def _complete_reset(deps: Dependencies, message: dict[str, Any]) -> dict[str, int]:
    from .support import complete_due_reset

    return {"resets_completed": int(complete_due_reset(deps, message["user_id"]))}


def _count(deps: Dependencies, message: dict[str, Any]) -> dict[str, int]:
    org_id = message["org_id"]
    members, last = deps.orgs.members_page(org_id, message["after"], COUNT_PAGE)
    enabled = deps.second_factors.enabled_among([m.user_id for m in members])
    tally = MemberTally(**message["tally"])
    exempt = sum(1 for m in members if enforcement.is_exempt(m.role, m.sso))
    on = sum(1 for m in members if not enforcement.is_exempt(m.role, m.sso) and m.user_id in enabled)
    tally = MemberTally(
        exempt=tally.exempt + exempt,
        two_factor_on=tally.two_factor_on + on,
        two_factor_off=tally.two_factor_off + len(members) - exempt - on,
    )
    if last is not None:
        deps.queue.send([recount_message(org_id, message["as_of"], after=last, tally=tally)])
    else:
        deps.orgs.record_tally(org_id, tally, message["as_of"])
    return {"members_counted": len(members)}


def _send_password_pause(deps: Dependencies, message: dict[str, Any]) -> dict[str, int]:
    if message["to"] is None:
        return {"password_pause_notices": 0}  # the address has no account: nobody to tell
    if not deps.mailer.send(notifications.password_pause(message["to"], message["until"])):
        raise NoticesNotSent("the password pause notice was not sent")
    return {"password_pause_notices": 1}


def _current_organization(deps: Dependencies, org_id: str, enforced_at: int, stage: int) -> Organization | None:
    """The organization if the message still applies: enforcement is on since `enforced_at`
    (not turned off, nor off and on again), and `stage` is the most urgent notice due now
    (a message held back for long must not send a reminder after a later one)."""
    org = deps.orgs.get_organization(org_id)
    if org is None or not org.require_two_factor or org.enforced_at != enforced_at:
        return None
    if enforcement.notice_due(enforced_at, -1, deps.clock.now()) != stage:
        return None
    return org


def notice_email(to: str, org: Organization, stage: int) -> notifications.Email:
    assert org.enforced_at is not None
    deadline = enforcement.deadline(org.enforced_at)
    if stage == enforcement.STARTED:
        return notifications.enforcement_started(to, org.name, deadline)
    if stage == enforcement.LOCKOUT:
        return notifications.enforcement_lockout(to, org.name)
    return notifications.enforcement_reminder(to, org.name, deadline, enforcement.NOTICE_DAYS[stage])


class Pacer:
    """Keeps one worker's emails at most `per_second` a second (0: no limit)."""

    def __init__(
        self,
        per_second: float,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = 1 / per_second if per_second > 0 else 0.0
        self._sleep = sleep
        self._monotonic = monotonic
        self._next = 0.0

    def wait(self) -> None:
        if not self._interval:
            return
        now = self._monotonic()
        if now < self._next:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self._interval
