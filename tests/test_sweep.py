"""The hourly enforcement sweep (DESIGN.md "Organization enforcement"), invoked as
EventBridge would invoke it: through the Chalice test client, with the harness's
manual clock standing in for the passing days."""

from __future__ import annotations

import os
import threading
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import aws, wiring
from chalicelib.clock import format_time
from chalicelib.enforcement import DAY
from devkit.harness import Harness

HOUR = 3600
GRACE = 30 * DAY
OWNER = "owner@example.com"
MEMBER = "member@example.com"
NOTHING = {"reminders_sent": 0, "lockouts": 0, "resets_completed": 0}
REMINDER = {
    7: "7 days left to turn on two-factor authentication",
    3: "3 days left to turn on two-factor authentication",
}
REMINDER[1] = "1 day left to turn on two-factor authentication"
LOCKOUT = "Two-factor authentication is now required"
STAGE = {7: 0, 3: 1, 1: 2, 0: 3}  # days before the deadline -> index in NOTICE_DAYS


class Enforced:
    """An owner with 2FA, a Business org named Acme that requires 2FA, and its members."""

    def __init__(self, h: Harness, members: tuple[str, ...] = (MEMBER,), sso: tuple[str, ...] = ()) -> None:
        self.h = h
        self.owner, self.owner_secret, _ = h.user_with_two_factor(OWNER)
        self.org_id = h.post("/v1/orgs", {"name": "Acme", "plan": "business"}, token=self.owner).body["org_id"]
        for email in members + sso:
            h.sign_up(email)
            body = {"email": email, "role": "member", "sso": email in sso}
            assert h.post(f"/v1/orgs/{self.org_id}/members", body, token=self.owner).status == 201
        reply = h.put(f"/v1/orgs/{self.org_id}/security", {"require_two_factor": True}, token=self.owner)
        assert reply.status == 200, reply
        self.started = h.clock.now()
        self.deadline = self.started + GRACE

    def owner_session(self) -> str:
        reply = self.h.sign_in_with_code(OWNER, self.owner_secret)
        assert reply.status == 200, reply
        return str(reply.body["session_token"])

    def statuses(self) -> dict[str, tuple[str, str | None]]:
        reply = self.h.get(f"/v1/orgs/{self.org_id}/security", token=self.owner_session())
        assert reply.status == 200, reply
        return {row["email"]: (row["status"], row["deadline"]) for row in reply.body["members"]}


def subjects(h: Harness, to: str) -> list[str]:
    return [e["subject"] for e in h.emails(to)]


def member_item(h: Harness, email: str) -> dict[str, Any]:
    [item] = [i for i in h.table_items() if i["sk"]["S"].startswith("MEMBER#") and i["email"]["S"] == email]
    return item


def sweep_at(h: Harness, moment: int) -> dict[str, int]:
    h.clock.set(moment)
    return h.sweep()


# -- the 30-day walk -------------------------------------------------------------------------------


def test_thirty_day_walk_sends_exactly_the_promised_notices(h):
    org = Enforced(h, members=(MEMBER,), sso=("sso@example.com",))
    h.user_with_two_factor("enrolled@example.com")
    h.post(
        f"/v1/orgs/{org.org_id}/members", {"email": "enrolled@example.com", "role": "member"}, token=org.owner_session()
    )
    # Day 0: the enforcement-started email, sent by the policy change, not by the sweep.
    [started] = h.emails(MEMBER)
    assert started["subject"] == "Acme requires two-factor authentication"
    assert format_time(org.deadline) in started["body"]
    assert h.emails("sso@example.com") == []

    seen = len(h.emails())
    sent: list[tuple[int, str, str]] = []  # (hour, to, subject) of every email the sweep sent
    results: dict[int, dict[str, int]] = {}
    for hour in range(1, 30 * 24 + 1):
        h.clock.set(org.started + hour * HOUR)
        if hour in (1, 30 * 24 - 1):
            reply = h.sign_in(MEMBER)
            assert reply.body["status"] == "signed_in"
            assert reply.body["two_factor_deadline"] == format_time(org.deadline)
            seen = len(h.emails())
        result = h.sweep()
        if result != NOTHING:
            results[hour] = result
        emails = h.emails()
        sent += [(hour, e["to"], e["subject"]) for e in emails[seen:]]
        seen = len(emails)

    assert sent == [
        (23 * 24, MEMBER, REMINDER[7]),
        (27 * 24, MEMBER, REMINDER[3]),
        (29 * 24, MEMBER, REMINDER[1]),
        (30 * 24, MEMBER, LOCKOUT),
    ]
    reminder = {"reminders_sent": 1, "lockouts": 0, "resets_completed": 0}
    assert results == {
        23 * 24: reminder,
        27 * 24: reminder,
        29 * 24: reminder,
        30 * 24: {"reminders_sent": 0, "lockouts": 1, "resets_completed": 0},
    }
    for email, days in zip(h.emails(MEMBER)[1:4], (7, 3, 1), strict=True):
        assert "Acme" in email["body"] and format_time(org.deadline) in email["body"], days
    assert "Acme" in h.emails(MEMBER)[4]["body"]
    # Every notice given: the member has left the deadline index.
    assert "due_pk" not in member_item(h, MEMBER)

    # After the deadline: only an enrollment token.
    reply = h.sign_in(MEMBER)
    assert reply.body["status"] == "enrollment_required"
    assert reply.body["organizations"] == [{"org_id": org.org_id, "name": "Acme"}]
    assert "session_token" not in reply.body
    enrollment = reply.body["enrollment_token"]

    me = h.get("/v1/me/security", token=enrollment)
    assert me.status == 200
    assert [(o["status"], o["deadline"]) for o in me.body["organizations"]] == [("locked", format_time(org.deadline))]
    for method, path, body in (
        ("POST", "/v1/orgs", {"name": "Mine", "plan": "free"}),
        ("GET", f"/v1/orgs/{org.org_id}/security", None),
        ("POST", "/v1/me/two-factor/backup-codes", {"code": "123456"}),
        ("POST", "/v1/me/two-factor/disable", {"code": "123456"}),
        ("DELETE", "/v1/me/two-factor/reset", None),
        ("POST", "/v1/sessions/verify", {"code": "123456"}),
        ("DELETE", "/v1/sessions/current", None),
    ):
        refused = h.request(method, path, body, token=enrollment)
        assert (refused.status, refused.body["error"]["code"]) == (401, "unauthorized"), path
    assert org.statuses()[MEMBER] == ("locked", format_time(org.deadline))

    # Enrolling with the enrollment token makes the member compliant and signs them in.
    secret = h.post("/v1/me/two-factor/enrollment", token=enrollment).body["secret"]
    confirmed = h.post("/v1/me/two-factor/enrollment/confirm", {"code": h.code(secret)}, token=enrollment)
    assert confirmed.status == 200
    assert len(confirmed.body["backup_codes"]) == 8
    session = confirmed.body["session_token"]
    assert h.get(f"/v1/orgs/{org.org_id}/security", token=session).body["error"]["code"] == "forbidden"
    me = h.get("/v1/me/security", token=session).body
    assert me["two_factor"]["enabled"] is True
    assert [(o["status"], o["deadline"]) for o in me["organizations"]] == [("compliant", None)]
    h.clock.advance(30)
    assert org.statuses() == {
        OWNER: ("compliant", None),
        MEMBER: ("compliant", None),
        "sso@example.com": ("exempt", None),
        "enrolled@example.com": ("compliant", None),
    }
    assert h.sign_in(MEMBER).body["status"] == "two_factor_required"

    # And the emails stop.
    seen = len(h.emails())
    for hour in range(30 * 24 + 1, 32 * 24 + 1):
        assert sweep_at(h, org.started + hour * HOUR) == NOTHING
    assert len(h.emails()) == seen


def test_enrolling_during_the_grace_period_stops_the_notices(h):
    org = Enforced(h)
    assert sweep_at(h, org.deadline - 7 * DAY)["reminders_sent"] == 1
    h.clock.advance(DAY)
    h.enroll(h.session(MEMBER))
    assert org.statuses()[MEMBER] == ("compliant", None)
    seen = len(h.emails(MEMBER))
    for moment in (org.deadline - 3 * DAY, org.deadline - DAY, org.deadline, org.deadline + DAY):
        assert sweep_at(h, moment) == NOTHING
    assert len(h.emails(MEMBER)) == seen
    # The first sweep that found them due dropped them from the index.
    assert "due_pk" not in member_item(h, MEMBER)
    assert h.sign_in(MEMBER).body["status"] == "two_factor_required"


# -- missed runs -----------------------------------------------------------------------------------


def test_after_missed_runs_only_the_most_urgent_notice_goes_out(h):
    org = Enforced(h)
    seen = len(h.emails(MEMBER))
    # The first sweep in 28 days runs two days before the deadline: the 7-day reminder is
    # skipped, the 3-day one goes out once.
    assert sweep_at(h, org.deadline - 2 * DAY) == {"reminders_sent": 1, "lockouts": 0, "resets_completed": 0}
    assert subjects(h, MEMBER)[seen:] == [REMINDER[3]]
    assert h.sweep() == NOTHING
    # Then hourly: the 1-day reminder and the lockout notice come at their times.
    sent = []
    for hour in range(1, 2 * 24 + 2):
        moment = org.deadline - 2 * DAY + hour * HOUR
        before = len(h.emails(MEMBER))
        sweep_at(h, moment)
        sent += [(moment, subject) for subject in subjects(h, MEMBER)[before:]]
    assert sent == [(org.deadline - DAY, REMINDER[1]), (org.deadline, LOCKOUT)]


def test_a_sweep_that_first_runs_after_the_deadline_sends_only_the_lockout_notice(h):
    org = Enforced(h)
    seen = len(h.emails(MEMBER))
    assert sweep_at(h, org.deadline + 5 * DAY) == {"reminders_sent": 0, "lockouts": 1, "resets_completed": 0}
    assert subjects(h, MEMBER)[seen:] == [LOCKOUT]
    assert sweep_at(h, org.deadline + 6 * DAY) == NOTHING
    assert len(h.emails(MEMBER)) == seen + 1


# -- idempotency -----------------------------------------------------------------------------------


def test_two_runs_in_the_same_hour_send_nothing_twice(h):
    org = Enforced(h)
    seen = len(h.emails(MEMBER))
    for days, expected in ((7, REMINDER[7]), (3, REMINDER[3]), (1, REMINDER[1]), (0, LOCKOUT)):
        moment = org.deadline - days * DAY
        first = sweep_at(h, moment)
        assert sum(first.values()) == 1
        assert sweep_at(h, moment) == NOTHING
        assert sweep_at(h, moment + HOUR - 1) == NOTHING
        assert subjects(h, MEMBER)[seen:] == [expected]
        seen += 1


def test_two_sweeps_at_once_send_each_notice_once(h, monkeypatch):
    """Both sweeps read everything before either writes (moto is not thread-safe, so the
    calls themselves are serialised); each notice must still go out exactly once."""
    members = (MEMBER, "second@example.com", "third@example.com")
    org = Enforced(h, members=members)
    deps = wiring.dependencies()
    repository, mailer = deps.repository, deps.mailer
    lock = threading.Lock()
    barrier = threading.Barrier(2, timeout=20)
    claims: list[tuple[str, int]] = []

    def serialised(function):
        def call(*args, **kwargs):
            with lock:
                return function(*args, **kwargs)

        return call

    for name in ("due_entries", "get_organizations", "two_factor_enabled", "leave_deadline_index", "load_user"):
        monkeypatch.setattr(repository, name, serialised(getattr(repository, name)))
    monkeypatch.setattr(mailer, "send", serialised(mailer.send))
    record_notice = repository.record_notice

    def record_after_both_have_read(member, stage, next_notice_at):
        barrier.wait()  # the other sweep has read this member too, and decided to send
        with lock:
            claims.append((member.email, stage))
            return record_notice(member, stage, next_notice_at)

    monkeypatch.setattr(repository, "record_notice", record_after_both_have_read)

    seen = {email: len(h.emails(email)) for email in members}
    for days, expected in ((7, REMINDER[7]), (3, REMINDER[3]), (1, REMINDER[1]), (0, LOCKOUT)):
        h.clock.set(org.deadline - days * DAY)
        claims.clear()
        results = run_concurrently(h, h.sweep, h.sweep)
        # Both sweeps tried to claim every member's notice; one claim each succeeded.
        assert sorted(claims) == sorted([(email, STAGE[days]) for email in members] * 2)
        assert sum(r["reminders_sent"] + r["lockouts"] for r in results) == len(members)
        for email in members:
            assert subjects(h, email)[seen[email] :] == [expected], email
            seen[email] += 1


def run_concurrently(h: Harness, *functions) -> list[Any]:
    results: list[Any] = [None] * len(functions)
    errors: list[BaseException] = []
    environment = os.environ  # the test client swaps os.environ per invocation; restore it

    def run(index: int, function) -> None:
        try:
            results[index] = function()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    os.environ = environment  # noqa: B003 - put back the very object the test client swapped out
    assert not any(thread.is_alive() for thread in threads)
    assert not errors, errors
    return results


def test_a_failed_email_is_not_recorded_and_goes_out_next_run(h):
    org = Enforced(h)
    ses = aws.client("ses")
    failures = {"left": 1}

    def refuse_once(**kwargs):
        if failures["left"]:
            failures["left"] -= 1
            raise ClientError(
                {"Error": {"Code": "Throttling", "Message": "Maximum sending rate exceeded."}}, "SendEmail"
            )

    ses.meta.events.register("before-call.ses.SendEmail", refuse_once)
    seen = len(h.emails(MEMBER))
    before = member_item(h, MEMBER)

    assert sweep_at(h, org.deadline - 7 * DAY) == NOTHING
    assert failures["left"] == 0  # the send was attempted and failed
    assert len(h.emails(MEMBER)) == seen
    after = member_item(h, MEMBER)
    assert after["notice_stage"] == before["notice_stage"] == {"N": "-1"}
    assert after["due_sk"] == before["due_sk"]

    assert sweep_at(h, org.deadline - 7 * DAY + HOUR) == {"reminders_sent": 1, "lockouts": 0, "resets_completed": 0}
    assert subjects(h, MEMBER)[seen:] == [REMINDER[7]]
    assert sweep_at(h, org.deadline - 7 * DAY + 2 * HOUR) == NOTHING
    assert member_item(h, MEMBER)["notice_stage"] == {"N": "0"}


def test_a_failed_lockout_email_is_retried_too(h):
    org = Enforced(h)
    seen = len(h.emails(MEMBER))
    ses = aws.client("ses")
    failures = {"left": 1}

    def refuse_once(**kwargs):
        if failures["left"]:
            failures["left"] -= 1
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "Try later."}}, "SendEmail")

    ses.meta.events.register("before-call.ses.SendEmail", refuse_once)
    assert sweep_at(h, org.deadline) == NOTHING
    assert sweep_at(h, org.deadline + HOUR) == {"reminders_sent": 0, "lockouts": 1, "resets_completed": 0}
    assert subjects(h, MEMBER)[seen:] == [LOCKOUT]
    assert sweep_at(h, org.deadline + 2 * HOUR) == NOTHING


# -- who gets notices ------------------------------------------------------------------------------


def test_sso_members_get_no_notices_and_sso_admins_do(h):
    org = Enforced(h, members=(), sso=("sso@example.com",))
    h.sign_up("sso-admin@example.com")
    h.post(
        f"/v1/orgs/{org.org_id}/members",
        {"email": "sso-admin@example.com", "role": "admin", "sso": True},
        token=org.owner,
    )
    # Added while enforcement is on: due at once, so the lockout notice is what is due.
    assert h.sweep() == {"reminders_sent": 0, "lockouts": 1, "resets_completed": 0}
    for moment in (org.deadline - 7 * DAY, org.deadline - DAY, org.deadline):
        assert sweep_at(h, moment) == NOTHING
    assert subjects(h, "sso-admin@example.com") == [LOCKOUT]
    assert h.emails("sso@example.com") == []


def test_the_sweep_works_in_bounded_batches(h):
    import dataclasses

    members = tuple(f"member{i}@example.com" for i in range(5))
    org = Enforced(h, members=members)
    deps = wiring.dependencies()
    wiring.configure(settings=dataclasses.replace(deps.settings, sweep_batch_size=2), clock=h.clock)
    h.clock.set(org.deadline - 7 * DAY)
    assert [h.sweep()["reminders_sent"] for _ in range(4)] == [2, 2, 1, 0]
    assert all(subjects(h, email).count(REMINDER[7]) == 1 for email in members)
