"""Support-assisted 2FA reset (API.md "Support", DESIGN.md "Support reset"): requested,
emailed, cancelled by the user, or completed by the sweep after 24 hours and not before."""

from __future__ import annotations

import dataclasses
from typing import Any

from chalicelib import admin, wiring
from chalicelib.clock import format_time
from chalicelib.config import Settings
from devkit.harness import Harness
from devkit.races import WorstInterleaving

HOUR = 3600
SUPPORT = "support@example.com"
USER = "user@example.com"
RESET = {"verification_reference": "ticket 4711: ID checked on video call", "reason": "lost phone and backup codes"}


class Desk:
    """A support agent (role granted by the operator command) and a user with 2FA."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        h.sign_up(SUPPORT)
        self.support_id = admin.grant_support(SUPPORT)
        self.support = h.session(SUPPORT)
        self.user_session, self.secret, self.backup_codes = h.user_with_two_factor(USER)
        self.user_id = user_id_of(h, USER)

    def request_reset(self, body: dict[str, str] | None = None, user_id: str | None = None, token: str | None = None):
        return self.h.post(
            f"/v1/support/users/{user_id or self.user_id}/two-factor-reset",
            RESET if body is None else body,
            token=token or self.support,
        )


def user_id_of(h: Harness, email: str) -> str:
    return next(i["user_id"]["S"] for i in h.table_items() if i["pk"]["S"] == f"EMAIL#{email}")


def user_items(h: Harness, user_id: str) -> set[str]:
    return {i["sk"]["S"] for i in h.table_items() if i["pk"]["S"] == f"USER#{user_id}"}


def audit(h: Harness, user_id: str) -> list[dict[str, Any]]:
    items = [i for i in h.table_items() if i["pk"]["S"] == f"AUDIT#{user_id}"]
    return sorted(items, key=lambda i: (int(i["at"]["N"]), i["sk"]["S"]))


def subjects(h: Harness, to: str) -> list[str]:
    return [e["subject"] for e in h.emails(to)]


def error_code(reply) -> str:
    return reply.body["error"]["code"]


def resets_completed(h: Harness) -> int:
    """Run the hourly function and the queue worker; how many resets they completed."""
    return h.sweep().get("resets_completed", 0)


def test_requested_emailed_shown_and_cancelled(h):
    desk = Desk(h)
    requested_at = h.clock.now()
    reply = desk.request_reset()
    assert reply.status == 202
    effective_at = format_time(requested_at + 24 * HOUR)
    assert reply.body == {"reset_id": reply.body["reset_id"], "status": "pending", "effective_at": effective_at}
    reset_id = reply.body["reset_id"]

    # Emailed at once, with the time it will happen.
    email = h.emails(USER)[-1]
    assert email["subject"] == "Two-factor reset requested"
    assert effective_at in email["body"]

    me = h.get("/v1/me/security", token=desk.user_session).body
    assert me["pending_reset"] == {"reset_id": reset_id, "effective_at": effective_at}
    assert me["two_factor"]["enabled"] is True

    cancelled = h.delete("/v1/me/two-factor/reset", token=desk.user_session)
    assert (cancelled.status, cancelled.body) == (200, {"status": "cancelled"})
    assert subjects(h, USER)[-1] == "Two-factor reset cancelled"
    assert h.get("/v1/me/security", token=desk.user_session).body["pending_reset"] is None
    again = h.delete("/v1/me/two-factor/reset", token=desk.user_session)
    assert (again.status, error_code(again)) == (409, "no_pending_reset")

    # The sweep does not complete a cancelled reset.
    emails = len(h.emails(USER))
    h.clock.set(requested_at + 24 * HOUR)
    assert resets_completed(h) == 0
    h.clock.advance(2 * 24 * HOUR)
    assert resets_completed(h) == 0
    assert len(h.emails(USER)) == emails
    assert {"TOTP", "BACKUP"} <= user_items(h, desk.user_id)
    assert "RESET" not in user_items(h, desk.user_id)
    assert h.sign_in(USER).body["status"] == "two_factor_required"

    kinds = [(i["kind"]["S"], i["actor"]["S"]) for i in audit(h, desk.user_id)]
    assert ("support_reset_requested", desk.support_id) in kinds
    assert ("support_reset_cancelled", desk.user_id) in kinds
    assert "support_reset_completed" not in [kind for kind, _ in kinds]


def test_cancel_without_a_pending_reset(h):
    desk = Desk(h)
    reply = h.delete("/v1/me/two-factor/reset", token=desk.user_session)
    assert (reply.status, error_code(reply)) == (409, "no_pending_reset")
    assert h.delete("/v1/me/two-factor/reset").status == 401


def test_completed_by_the_sweep_after_24_hours_and_not_before(h):
    desk = Desk(h)
    requested_at = h.clock.now()
    reset_id = desk.request_reset().body["reset_id"]
    assert {"TOTP", "BACKUP", "RESET"} <= user_items(h, desk.user_id)

    # Not before its time: one second early, the sweep leaves everything alone.
    h.clock.set(requested_at + 23 * HOUR)
    recent_session = h.sign_in_with_code(USER, desk.secret).body["session_token"]
    h.clock.set(requested_at + 24 * HOUR - 1)
    assert h.sweep() == {"notice_stages_queued": 0, "resets_queued": 0}
    assert {"TOTP", "BACKUP", "RESET"} <= user_items(h, desk.user_id)
    assert h.get("/v1/me/security", token=recent_session).body["two_factor"]["enabled"] is True

    h.clock.set(requested_at + 24 * HOUR)
    assert h.sweep() == {"notice_stages_queued": 0, "resets_queued": 1, "resets_completed": 1}

    # Secret, backup codes and the reset are gone; the user's sessions are revoked.
    assert user_items(h, desk.user_id) == {"PROFILE"}
    assert h.get("/v1/me/security", token=recent_session).status == 401
    assert subjects(h, USER)[-1] == "Two-factor authentication was reset"
    completed = [i for i in audit(h, desk.user_id) if i["kind"]["S"].startswith("support_reset")]
    assert [(i["kind"]["S"], i["actor"]["S"]) for i in completed] == [
        ("support_reset_requested", desk.support_id),
        ("support_reset_completed", desk.support_id),
    ]
    requested = completed[0]["details"]["M"]
    assert requested["verification_reference"]["S"] == RESET["verification_reference"]
    assert requested["reason"]["S"] == RESET["reason"]
    assert completed[1]["details"]["M"]["id"]["S"] == reset_id

    # The user signs in with the password alone now, and may enroll a new device.
    reply = h.sign_in(USER)
    assert reply.body["status"] == "signed_in"
    assert "two_factor_deadline" not in reply.body
    me = h.get("/v1/me/security", token=reply.body["session_token"]).body
    assert me["two_factor"] == {"enabled": False, "enabled_at": None, "backup_codes_remaining": 0}
    assert me["pending_reset"] is None
    h.enroll(reply.body["session_token"])

    # Done once: later sweeps do nothing more.
    emails = len(h.emails(USER))
    assert resets_completed(h) == 0
    h.clock.advance(HOUR)
    assert resets_completed(h) == 0
    assert len(h.emails(USER)) == emails


def test_the_waiting_period_is_configurable(h):
    settings = dataclasses.replace(Settings.from_environment(), support_reset_hours=2)
    wiring.configure(settings=settings, clock=h.clock)
    desk = Desk(h)
    requested_at = h.clock.now()
    reply = desk.request_reset()
    assert reply.body["effective_at"] == format_time(requested_at + 2 * HOUR)
    h.clock.set(requested_at + 2 * HOUR - 1)
    assert resets_completed(h) == 0
    h.clock.set(requested_at + 2 * HOUR)
    assert resets_completed(h) == 1


def test_a_reset_user_owes_two_factor_under_the_organizations_deadline(h):
    """Support turns 2FA off; in an organization that requires it the user then owes it like
    every member without it: by the organization's deadline, so past it at their next sign-in."""
    desk = Desk(h)
    owner, _, _ = h.user_with_two_factor("owner@example.com")
    org_id = h.post("/v1/orgs", {"name": "Acme", "plan": "business"}, token=owner).body["org_id"]
    assert h.join(org_id, owner, USER).status == 200
    enforced_at = h.clock.now()
    assert h.put(f"/v1/orgs/{org_id}/security", {"require_two_factor": True}, token=owner).status == 200
    h.drain()
    assert subjects(h, USER).count("Acme requires two-factor authentication") == 0  # compliant: not told

    # Past the deadline: every notice stage went out while the user still had 2FA on.
    h.clock.set(enforced_at + 31 * 24 * HOUR)
    h.sweep()
    desk.support = h.session(SUPPORT)  # sessions last 12 hours
    requested_at = h.clock.now()
    assert desk.request_reset().status == 202
    h.clock.set(requested_at + 24 * HOUR)
    assert resets_completed(h) == 1

    reply = h.sign_in(USER)
    assert reply.body["status"] == "enrollment_required"
    assert reply.body["organizations"] == [{"org_id": org_id, "name": "Acme"}]
    enrollment = reply.body["enrollment_token"]
    [org] = h.get("/v1/me/security", token=enrollment).body["organizations"]
    assert org["status"] == "locked"

    # The completion email said so: no separate lockout notice follows.
    emails = len(h.emails(USER))
    for hours in (1, 24, 24 * 8):
        h.clock.set(requested_at + 24 * HOUR + hours * HOUR)
        h.sweep()
    assert len(h.emails(USER)) == emails

    # Enrolling with the enrollment token restores access.
    reply = h.sign_in(USER)
    enrollment = reply.body["enrollment_token"]
    secret = h.post("/v1/me/two-factor/enrollment", token=enrollment).body["secret"]
    confirmed = h.post("/v1/me/two-factor/enrollment/confirm", {"code": h.code(secret)}, token=enrollment)
    assert confirmed.status == 200
    [org] = h.get("/v1/me/security", token=confirmed.body["session_token"]).body["organizations"]
    assert (org["status"], org["deadline"]) == ("compliant", None)


def test_a_reset_during_the_grace_period_leaves_the_rest_of_it(h):
    desk = Desk(h)
    owner, _, _ = h.user_with_two_factor("owner@example.com")
    org_id = h.post("/v1/orgs", {"name": "Acme", "plan": "business"}, token=owner).body["org_id"]
    assert h.join(org_id, owner, USER).status == 200
    enforced_at = h.clock.now()
    assert h.put(f"/v1/orgs/{org_id}/security", {"require_two_factor": True}, token=owner).status == 200
    desk.request_reset()
    h.clock.advance(24 * HOUR)
    assert resets_completed(h) == 1
    reply = h.sign_in(USER)
    assert reply.body["status"] == "signed_in"
    assert reply.body["two_factor_deadline"] == format_time(enforced_at + 30 * 24 * HOUR)
    # It owes 2FA now, so the next reminder reaches it.
    h.clock.set(enforced_at + 23 * 24 * HOUR)
    h.sweep()
    assert subjects(h, USER)[-1] == "7 days left to turn on two-factor authentication"


def test_only_support_may_request_a_reset(h):
    desk = Desk(h)
    h.sign_up("colleague@example.com")
    colleague = h.session("colleague@example.com")
    for token in (colleague, desk.user_session):
        reply = desk.request_reset(token=token)
        assert (reply.status, error_code(reply)) == (403, "forbidden")
    assert desk.request_reset(token="not-a-token").status == 401
    assert "RESET" not in user_items(h, desk.user_id)
    assert "Two-factor reset requested" not in subjects(h, USER)


def test_request_errors(h):
    desk = Desk(h)
    unknown = desk.request_reset(user_id="00000000-0000-4000-8000-000000000000")
    assert (unknown.status, error_code(unknown)) == (404, "not_found")
    not_an_id = desk.request_reset(user_id="someone")
    assert (not_an_id.status, error_code(not_an_id)) == (404, "not_found")

    no_two_factor = desk.request_reset(user_id=user_id_of(h, SUPPORT))
    assert (no_two_factor.status, error_code(no_two_factor)) == (409, "not_enabled")

    for body in (
        {"verification_reference": "ticket 1"},
        {"verification_reference": "", "reason": "lost phone"},
        {"verification_reference": "ticket 1", "reason": "x" * 501},
        {"verification_reference": "ticket 1", "reason": "lost phone", "effective_at": "now"},
    ):
        reply = desk.request_reset(body)
        assert (reply.status, error_code(reply)) == (400, "invalid_request"), body
    assert desk.request_reset({"verification_reference": "x" * 500, "reason": "y"}).status == 202


def test_two_sweeps_at_once_complete_a_reset_once(h, monkeypatch):
    """Two hourly runs both queue the due reset; two workers load it before either writes;
    one completes it, with one email."""
    desk = Desk(h)
    requested_at = h.clock.now()
    desk.request_reset()
    h.clock.set(requested_at + 24 * HOUR)
    assert h.hourly()["resets_queued"] == 1
    assert h.hourly()["resets_queued"] == 1
    messages = h.take_messages()
    assert messages == [{"kind": "reset", "user_id": desk.user_id}] * 2

    race = WorstInterleaving(monkeypatch, 2, "complete_reset")
    results = race.run(*(lambda m=m: h.deliver(m) for m in messages))

    assert sorted(r["resets_completed"] for r in results) == [0, 1]
    assert subjects(h, USER).count("Two-factor authentication was reset") == 1
    completed = [i for i in audit(h, desk.user_id) if i["kind"]["S"] == "support_reset_completed"]
    assert len(completed) == 1
    [profile] = [i for i in h.table_items() if i["pk"]["S"] == f"USER#{desk.user_id}" and i["sk"]["S"] == "PROFILE"]
    assert profile["session_epoch"] == {"N": "2"}  # enrollment moved it to 1; the reset once more


def test_turning_two_factor_off_drops_a_pending_reset(h):
    """A reset left pending after the user turned 2FA off and on again would delete their new
    device; turning 2FA off is the reset's work done, so it goes with it."""
    desk = Desk(h)
    assert desk.request_reset().status == 202
    h.clock.advance(30)
    off = h.post("/v1/me/two-factor/disable", {"code": h.code(desk.secret)}, token=desk.user_session)
    assert off.status == 200
    assert "RESET" not in user_items(h, desk.user_id)
    assert h.get("/v1/me/security", token=desk.user_session).body["pending_reset"] is None

    new_secret, _ = h.enroll(desk.user_session)
    h.clock.advance(25 * HOUR)
    assert resets_completed(h) == 0
    assert h.sign_in_with_code(USER, new_secret).status == 200
