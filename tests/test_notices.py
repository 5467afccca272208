"""Enforcement notices (DESIGN.md "Organization enforcement", "Scale"): the hourly function
finds the stage that is due and enqueues it; the queue worker fans it out to the members
and sends each notice once. Invoked as AWS would invoke them, through the Chalice test
client, with the harness's manual clock standing in for the passing days."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from chalicelib import enforcement, worker
from chalicelib.clock import format_time
from chalicelib.enforcement import DAY
from chalicelib.mailer import SesMailer
from devkit import population
from devkit.counting import RequestCounter
from devkit.harness import Harness
from devkit.races import WorstInterleaving

HOUR = 3600
GRACE = 30 * DAY
OWNER = "owner@example.com"
MEMBER = "member@example.com"
STARTED = "Acme requires two-factor authentication"
REMINDER = {days: f"{days} days left to turn on two-factor authentication" for days in (7, 3)}
REMINDER[1] = "1 day left to turn on two-factor authentication"
LOCKOUT = "Two-factor authentication is now required"
SERIES = [STARTED, REMINDER[7], REMINDER[3], REMINDER[1], LOCKOUT]


class Org:
    """An owner with 2FA and a Business organization named Acme with members who signed up
    through the API (`members`, `sso`), before enforcement is turned on with `enforce()`."""

    def __init__(self, h: Harness, members: tuple[str, ...] = (MEMBER,), sso: tuple[str, ...] = ()) -> None:
        self.h = h
        self.owner, self.owner_secret, _ = h.user_with_two_factor(OWNER)
        self.org_id = h.post("/v1/orgs", {"name": "Acme", "plan": "business"}, token=self.owner).body["org_id"]
        for email in members + sso:
            h.sign_up(email)
            assert h.join(self.org_id, self.owner, email, sso=email in sso).status == 200

    def enforce(self) -> Org:
        reply = self.h.put(f"/v1/orgs/{self.org_id}/security", {"require_two_factor": True}, token=self.owner)
        assert reply.status == 200, reply
        self.started = self.h.clock.now()
        self.deadline = self.started + GRACE
        return self

    def at(self, days: float) -> int:
        """The moment `days` days after enforcement started."""
        return self.started + int(days * DAY)


def subjects(h: Harness, to: str) -> list[str]:
    """The subjects of the emails to `to`, the invitation that made them a member left out."""
    return [e["subject"] for e in h.emails(to) if " invites you to " not in e["subject"]]


def sweep_at(h: Harness, moment: int) -> dict[str, int]:
    h.clock.set(moment)
    return h.sweep()


# -- the whole grace period ------------------------------------------------------------------------


def test_thirty_day_walk_of_two_thousand_members_gives_each_notice_once_on_its_day(h):
    """Hour by hour through the grace period: every member who owes 2FA gets the five notices,
    each exactly once, at its hour; members with 2FA, SSO members and members who enroll
    along the way get none (or no more). 1,700 of the 2,000 have 2FA, so that the walk
    checks every member's state at each stage without sending thousands of emails on moto."""
    org = Org(h, members=())
    bulk = population.add_members(org.org_id, 1700, h.clock.now(), two_factor_every=1)
    bulk += population.add_members(org.org_id, 300, h.clock.now(), sso_every=10, prefix="p")
    org.enforce()
    owing = {m.email for m in bulk if not m.two_factor and not m.sso}
    quiet = {m.email for m in bulk} - owing
    assert (len(bulk), len(owing)) == (2000, 270)

    received: dict[str, list[tuple[int, str]]] = defaultdict(list)  # email -> [(hour, subject)]
    seen = 0

    def collect(hour: int) -> None:
        nonlocal seen
        emails = h.emails()
        for email in emails[seen:]:
            received[email["to"]].append((hour, email["subject"]))
        seen = len(emails)

    h.drain()  # the request handed the "enforcement started" stage to the queue
    collect(0)
    enrolled_on_day_10 = sorted(owing)[:25]
    for hour in range(1, 30 * 24 + 2):
        h.clock.set(org.started + hour * HOUR)
        if hour == 10 * 24:
            for member in bulk:
                if member.email in enrolled_on_day_10:
                    population.set_two_factor(member.user_id, h.clock.now())
        h.sweep()
        collect(hour)

    expected = [
        (0, STARTED),
        (23 * 24, REMINDER[7]),
        (27 * 24, REMINDER[3]),
        (29 * 24, REMINDER[1]),
        (30 * 24, LOCKOUT),
    ]
    for email in owing - set(enrolled_on_day_10):
        assert received[email] == expected, email
    for email in enrolled_on_day_10:
        assert received[email] == [(0, STARTED)], email
    for email in quiet:
        assert received[email] == [], email
    assert {email for email, got in received.items() if got} - {OWNER} == owing
    body = h.emails(sorted(owing)[-1])[1]["body"]  # bulk members got no invitation email
    assert "Acme" in body and format_time(org.deadline) in body
    # Every stage handed over: the organization has left the deadline index.
    assert not any("due_pk" in item for item in h.table_items())


def test_the_lockout_ends_the_password_only_session_and_enrollment_restores_access(h):
    org = Org(h, sso=("sso@example.com",)).enforce()
    h.drain()
    assert subjects(h, MEMBER) == [STARTED]
    for days in (23, 27, 29, 30):
        sweep_at(h, org.at(days))
    assert subjects(h, MEMBER) == SERIES
    assert subjects(h, "sso@example.com") == []

    reply = h.sign_in(MEMBER)
    assert reply.body["status"] == "enrollment_required"
    assert reply.body["organizations"] == [{"org_id": org.org_id, "name": "Acme"}]
    enrollment = reply.body["enrollment_token"]
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
    secret = h.post("/v1/me/two-factor/enrollment", token=enrollment).body["secret"]
    confirmed = h.post("/v1/me/two-factor/enrollment/confirm", {"code": h.code(secret)}, token=enrollment)
    assert confirmed.status == 200
    me = h.get("/v1/me/security", token=confirmed.body["session_token"]).body
    assert [(o["status"], o["deadline"]) for o in me["organizations"]] == [("compliant", None)]

    # And the emails stop.
    seen = len(h.emails())
    for hours in (1, 24, 48):
        sweep_at(h, org.deadline + hours * HOUR)
    assert len(h.emails()) == seen


def test_enrolling_during_the_grace_period_stops_the_notices(h):
    org = Org(h).enforce()
    h.drain()
    sweep_at(h, org.at(23))
    h.enroll(h.session(MEMBER))
    for days in (27, 29, 30, 31):
        sweep_at(h, org.at(days))
    assert subjects(h, MEMBER) == [STARTED, REMINDER[7], "Two-factor authentication is on"]


def test_after_missed_runs_only_the_most_urgent_notice_goes_out(h):
    org = Org(h).enforce()
    h.drain()
    assert sweep_at(h, org.at(28))["notices_sent"] == 1  # the 7- and 3-day reminders were missed
    assert subjects(h, MEMBER) == [STARTED, REMINDER[3]]
    sweep_at(h, org.at(29))
    sweep_at(h, org.at(30))
    assert subjects(h, MEMBER) == [STARTED, REMINDER[3], REMINDER[1], LOCKOUT]


def test_a_first_run_after_the_deadline_sends_only_the_lockout_notice(h, monkeypatch):
    org = Org(h)
    monkeypatch.setattr(worker, "_send_notices", lambda deps, message: {})  # the queue loses the first stage
    org.enforce()
    h.drain()
    monkeypatch.undo()
    assert subjects(h, MEMBER) == []
    assert sweep_at(h, org.at(31))["notices_sent"] == 1
    assert subjects(h, MEMBER) == [LOCKOUT]


def test_the_started_notice_goes_out_even_if_the_queue_was_down_during_the_request(h, monkeypatch):
    org = Org(h)
    from chalicelib.errors import TemporarilyUnavailable
    from chalicelib.queue import SqsQueue

    def unavailable(queue, messages):
        raise TemporarilyUnavailable()

    monkeypatch.setattr(SqsQueue, "send", unavailable)
    org.enforce()  # the policy is on; the stage stays due
    monkeypatch.undo()
    assert h.waiting() == 0
    assert sweep_at(h, org.started + HOUR)["notices_sent"] == 1
    assert subjects(h, MEMBER) == [STARTED]


# -- each notice once ------------------------------------------------------------------------------


def test_two_hourly_runs_in_the_same_hour_send_nothing_twice(h):
    org = Org(h).enforce()
    h.drain()
    h.clock.set(org.at(23))
    assert h.hourly()["notice_stages_queued"] == 1
    assert h.hourly()["notice_stages_queued"] == 0
    h.drain()
    assert subjects(h, MEMBER) == [STARTED, REMINDER[7]]


def test_two_hourly_runs_at_once_send_each_notice_once(h, monkeypatch):
    """Both runs read the organization's stage before either records it: both enqueue the
    fan-out, and the members' claims keep each notice to one email."""
    org = Org(h, members=(MEMBER, "second@example.com")).enforce()
    h.drain()
    h.clock.set(org.at(23))
    race = WorstInterleaving(monkeypatch, 2, "advance_notice_stage")
    results = race.run(h.hourly, h.hourly)
    assert [r["notice_stages_queued"] for r in results] == [1, 1]
    assert h.drain()["notices_sent"] == 2
    for email in (MEMBER, "second@example.com"):
        assert subjects(h, email) == [STARTED, REMINDER[7]]


def test_a_message_delivered_twice_sends_each_notice_once(h):
    org = Org(h, members=(MEMBER, "second@example.com")).enforce()
    fanout = h.take_messages()
    assert [m["kind"] for m in fanout] == ["fanout"]
    h.deliver(fanout[0])
    h.deliver(fanout[0])  # SQS delivers at least once
    batches = h.take_messages()
    assert [m["kind"] for m in batches] == ["notices", "notices"]
    assert batches[0] == batches[1]
    assert [h.deliver(m).get("notices_sent", 0) for m in batches] == [2, 0]
    for email in (MEMBER, "second@example.com"):
        assert subjects(h, email) == [STARTED]
    del org


def test_two_workers_claiming_the_same_notice_send_it_once(h, monkeypatch):
    Org(h).enforce()
    h.deliver(h.take_messages()[0])
    [batch] = h.take_messages()
    race = WorstInterleaving(monkeypatch, 2, "claim")
    results = race.run(lambda: h.deliver(batch), lambda: h.deliver(batch))
    assert sorted(r["notices_sent"] for r in results) == [0, 1]
    assert subjects(h, MEMBER) == [STARTED]


def test_a_failed_email_is_retried_by_the_queue_and_sent_once(h, monkeypatch):
    org = Org(h, members=(MEMBER, "second@example.com"))
    send = SesMailer.send
    failing = {MEMBER}

    def flaky(mailer, email):
        return False if email.to in failing else send(mailer, email)

    monkeypatch.setattr(SesMailer, "send", flaky)
    org.enforce()
    h.drain()
    assert len(h.failed_messages) == 1  # the batch failed and stays on the queue
    assert subjects(h, "second@example.com") == [STARTED]
    assert subjects(h, MEMBER) == []
    assert not [i for i in h.table_items() if i["pk"]["S"].startswith("NOTICE#") and MEMBER in str(i)]

    failing.clear()  # SES is back
    h.redeliver()
    assert h.drain() == {"notices_sent": 1}
    assert subjects(h, MEMBER) == [STARTED]
    assert subjects(h, "second@example.com") == [STARTED]


def test_a_message_that_no_longer_applies_sends_nothing(h):
    org = Org(h).enforce()
    [fanout] = h.take_messages()
    h.deliver(fanout)
    [batch] = h.take_messages()
    # Held back until the 7-day reminder is due: the started notice is stale by then.
    h.clock.set(org.at(23))
    assert h.deliver(batch) == {"stale": 1}
    # Enforcement turned off and on again: messages of the earlier round are stale.
    h.clock.set(org.at(1))
    session = h.sign_in_with_code(OWNER, org.owner_secret).body["session_token"]
    for on in (False, True):
        assert h.put(f"/v1/orgs/{org.org_id}/security", {"require_two_factor": on}, token=session).status == 200
    assert h.deliver(fanout) == {"stale": 1}
    assert h.deliver(batch) == {"stale": 1}
    assert subjects(h, MEMBER) == []
    h.drain()
    assert subjects(h, MEMBER) == [STARTED]  # the new round's own


def test_one_series_for_organizations_whose_deadlines_coincide_and_one_each_otherwise(h):
    owner, secret, _ = h.user_with_two_factor(OWNER)
    h.sign_up(MEMBER)
    orgs = []
    for name in ("Acme", "Beta", "Gamma"):
        org_id = h.post("/v1/orgs", {"name": name, "plan": "business"}, token=owner).body["org_id"]
        assert h.join(org_id, owner, MEMBER).status == 200
        orgs.append(org_id)
    started = h.clock.now()
    for org_id in orgs[:2]:  # the same second: the same deadline
        h.put(f"/v1/orgs/{org_id}/security", {"require_two_factor": True}, token=owner)
    h.clock.advance(HOUR)
    h.put(f"/v1/orgs/{orgs[2]}/security", {"require_two_factor": True}, token=owner)
    h.drain()
    started_emails = [s for s in subjects(h, MEMBER) if s.endswith("requires two-factor authentication")]
    assert len(started_emails) == 2
    assert "Gamma requires two-factor authentication" in started_emails
    sweep_at(h, started + 23 * DAY + HOUR)
    assert subjects(h, MEMBER).count(REMINDER[7]) == 2
    del secret


# -- scale -----------------------------------------------------------------------------------------


def test_a_large_organization_is_fanned_out_page_by_page(h, monkeypatch):
    monkeypatch.setattr(worker, "FANOUT_PAGE", 7)
    monkeypatch.setattr(worker, "NOTICE_BATCH", 3)
    org = Org(h, members=())
    bulk = population.add_members(org.org_id, 40, h.clock.now(), sso_every=5)
    org.enforce()
    done = h.drain()
    owing = [m for m in bulk if not m.sso]
    assert done["notices_sent"] == len(owing)
    assert done["members_read"] == 41  # the owner too, who has 2FA
    assert Counter(e["to"] for e in h.emails() if e["subject"] == STARTED) == Counter(m.email for m in owing)


@pytest.mark.parametrize("size", [10, 300])
def test_the_policy_change_costs_the_same_whatever_the_size(h, size):
    org = Org(h, members=())
    population.add_members(org.org_id, size, h.clock.now())
    counter = RequestCounter()
    with counter.measure() as calls:
        org.enforce()
    # The caller's token, the organization, the caller's membership, the write, and recording
    # that the first stage went to the queue.
    assert calls["dynamodb"] == 5
    assert calls["ses"] == 0
    assert calls["sqs"] == 1
    assert calls["dynamodb.TransactWriteItems"] == 1
    with counter.measure() as calls:
        assert h.hourly() == {"notice_stages_queued": 0, "resets_queued": 0}
    assert calls["dynamodb"] == enforcement_shards(h)  # one query per shard of the index


def enforcement_shards(h: Harness) -> int:
    from chalicelib import wiring

    return wiring.dependencies().due_index.shards


def test_the_hourly_function_reads_only_what_is_due(h):
    """A large organization whose next notice is weeks away costs the hourly function nothing."""
    due = Org(h).enforce()
    h.drain()
    big = h.post("/v1/orgs", {"name": "Big", "plan": "business"}, token=due.owner).body["org_id"]
    population.add_members(big, 500, h.clock.now())
    h.clock.set(due.at(13))
    owner = h.session_with_code(OWNER)
    assert h.put(f"/v1/orgs/{big}/security", {"require_two_factor": True}, token=owner).status == 200
    h.drain()
    counter = RequestCounter()
    h.clock.set(due.at(23))
    with counter.measure() as calls:
        assert h.hourly()["notice_stages_queued"] == 1
    # One query per shard and the stage's record: the 500 members are not read.
    assert calls["dynamodb"] == enforcement_shards(h) + 1
    assert calls["dynamodb.Query"] == enforcement_shards(h)


def test_notices_cost_at_most_two_dynamodb_requests_and_one_email_each(h):
    org = Org(h, members=())
    population.add_members(org.org_id, 200, h.clock.now())
    org.enforce()
    counter = RequestCounter()
    with counter.measure() as calls:
        done = h.drain()
    assert done["notices_sent"] == 200
    assert calls["ses"] == 200
    assert calls["dynamodb"] / 200 <= 2
    assert calls["dynamodb.PutItem"] == 200  # one claim each


def test_the_pacer_keeps_a_worker_under_its_share_of_the_sending_rate():
    moments = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        moments[0] += seconds

    pacer = worker.Pacer(2.0, sleep=sleep, monotonic=lambda: moments[0])
    for _ in range(5):
        pacer.wait()
    assert slept == [0.5, 0.5, 0.5, 0.5]
    assert moments[0] == 2.0
    unpaced = worker.Pacer(0, sleep=sleep)
    for _ in range(3):
        unpaced.wait()
    assert len(slept) == 4


def test_an_unknown_message_is_dropped_and_logged(h, caplog):
    assert h.deliver({"kind": "surprise"}) == {}
    assert "unknown kind" in caplog.text
    assert enforcement.NOTICE_DAYS[enforcement.LOCKOUT] == 0
