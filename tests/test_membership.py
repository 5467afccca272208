"""Membership with consent (API.md "Membership: nobody joins without consenting", claim B11):
invitations by email with a single-use token, accepting and declining, 2FA before joining
under enforcement (S19), roles, leaving and removal, the last owner, and the limits on
inviting."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from chalicelib import membership
from chalicelib.clock import format_time
from chalicelib.enforcement import DAY
from devkit.counting import RequestCounter
from devkit.harness import Harness
from devkit.races import WorstInterleaving

OWNER = "owner@example.com"
ADMIN = "admin@example.com"
MEMBER = "member@example.com"
INVITED = "invited@example.com"


class Acme:
    """Olivia-style setup: an owner with 2FA and a Business organization named Acme."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.owner, self.owner_secret, _ = h.user_with_two_factor(OWNER)
        self.org_id = h.post("/v1/orgs", {"name": "Acme", "plan": "business"}, token=self.owner).body["org_id"]

    def invite(self, email: str, role: str = "member", sso: bool = False, token: str | None = None):
        return self.h.invite(self.org_id, token or self.owner, email, role, sso)

    def accept(self, session: str, token: str):
        return self.h.post(f"/v1/me/invitations/{self.org_id}/accept", {"token": token}, token=session)

    def members(self) -> dict[str, dict]:
        reply = self.h.get(f"/v1/orgs/{self.org_id}/members?limit=100", token=self.owner)
        assert reply.status == 200, reply
        return {row["email"]: row for row in reply.body["members"]}

    def audit(self) -> Counter[tuple[str, str]]:
        """The organization's audit events, as (kind, actor)."""
        items = [i for i in self.h.table_items() if i["pk"]["S"] == f"AUDIT#{self.org_id}"]
        return Counter((i["kind"]["S"], i["actor"]["S"]) for i in items)


def error(reply) -> tuple[int, str]:
    return reply.status, reply.body["error"]["code"]


def user_id(h: Harness, token: str) -> str:
    return str(h.get("/v1/me/security", token=token).body["user_id"])


# -- inviting and accepting ----------------------------------------------------------------------


def test_an_invitation_is_emailed_with_a_link_and_accepted_with_its_token(h):
    acme = Acme(h)
    h.sign_up(INVITED)
    invited = acme.invite(INVITED, role="admin")
    expires_at = format_time(h.clock.now() + 7 * DAY)
    assert invited.status == 201
    assert invited.body == {
        "org_id": acme.org_id,
        "email": INVITED,
        "role": "admin",
        "sso": False,
        "expires_at": expires_at,
    }

    [email] = h.emails(INVITED)
    assert email["subject"] == f"{OWNER} invites you to Acme on AegisRunner"
    link = re.search(r"http://localhost:8000/#invitation=([0-9a-f-]+)&token=([A-Za-z0-9_-]{43})", email["body"])
    assert link and link.group(1) == acme.org_id
    token = link.group(2)
    # Only the token's hash is stored.
    [stored] = [i for i in h.table_items() if i["pk"]["S"] == f"INVITE#{INVITED}"]
    assert token not in str(stored)

    session = h.session(INVITED)
    listed = h.get("/v1/me/invitations", token=session).body
    assert listed == {
        "invitations": [
            {
                "org_id": acme.org_id,
                "name": "Acme",
                "role": "admin",
                "sso": False,
                "require_two_factor": False,
                "expires_at": expires_at,
            }
        ]
    }
    accepted = acme.accept(session, token)
    assert accepted.status == 200
    assert accepted.body == {
        "org_id": acme.org_id,
        "name": "Acme",
        "role": "admin",
        "status": "not_required",
        "deadline": None,
    }
    assert acme.members()[INVITED]["role"] == "admin"
    assert [o["name"] for o in h.get("/v1/me/security", token=session).body["organizations"]] == ["Acme"]
    assert h.get("/v1/me/invitations", token=session).body == {"invitations": []}
    assert h.emails(OWNER)[-1]["subject"] == f"{INVITED} joined Acme"
    owner_id = user_id(h, acme.owner)
    assert acme.audit() == Counter({("member_invited", owner_id): 1, ("invitation_accepted", user_id(h, session)): 1})


def test_nobody_joins_without_the_token_from_their_own_mailbox(h):
    acme = Acme(h)
    h.sign_up(INVITED)
    h.sign_up("eve@example.com")
    acme.invite(INVITED)
    token = h.invitation_token(INVITED, acme.org_id)
    eve = h.session("eve@example.com")
    invited = h.session(INVITED)

    # Another account, even with the right token, or a token it guessed: not found.
    assert error(acme.accept(eve, token)) == (404, "not_found")
    assert error(acme.accept(invited, "A" * 43)) == (404, "not_found")
    assert error(acme.accept(invited, token[:-1] + ("B" if token[-1] != "B" else "C"))) == (404, "not_found")
    missing = h.post(f"/v1/me/invitations/{acme.org_id}/accept", {}, token=invited)
    assert error(missing) == (400, "invalid_request")
    for org_id in ("00000000-0000-4000-8000-000000000000", "not-an-id"):
        assert error(h.post(f"/v1/me/invitations/{org_id}/accept", {"token": token}, token=invited)) == (
            404,
            "not_found",
        )
    assert set(acme.members()) == {OWNER}
    assert error(h.post(f"/v1/me/invitations/{acme.org_id}/accept", {"token": token})) == (401, "unauthorized")

    # The right account and token: once.
    assert acme.accept(invited, token).status == 200
    again = acme.accept(invited, token)
    assert error(again) == (404, "not_found")


def test_inviting_again_replaces_the_token_and_invitations_expire(h):
    acme = Acme(h)
    h.sign_up(INVITED)
    session = h.session(INVITED)
    acme.invite(INVITED)
    first = h.invitation_token(INVITED, acme.org_id)
    acme.invite(INVITED, role="admin")
    second = h.invitation_token(INVITED, acme.org_id)
    assert first != second
    assert error(acme.accept(session, first)) == (404, "not_found")
    assert [i["role"] for i in h.get("/v1/me/invitations", token=session).body["invitations"]] == ["admin"]

    # Seven days later it has expired, although DynamoDB's TTL has not deleted it yet.
    h.clock.advance(7 * DAY)
    session = h.session(INVITED)
    assert h.get("/v1/me/invitations", token=session).body == {"invitations": []}
    assert error(acme.accept(session, second)) == (404, "not_found")
    assert any(i["pk"]["S"] == f"INVITE#{INVITED}" for i in h.table_items())


def test_an_invitation_to_an_address_without_an_account_waits_for_one(h):
    acme = Acme(h)
    acme.invite(INVITED)
    token = h.invitation_token(INVITED, acme.org_id)
    h.sign_up(INVITED)
    assert acme.accept(h.session(INVITED), token).status == 200


def test_invitations_to_addresses_with_and_without_accounts_look_the_same(h):
    """The reply, the DynamoDB requests and the emails are the same, so inviting tells the
    inviter nothing about who has an account."""
    acme = Acme(h)
    h.sign_up("has-account@example.com")
    counter = RequestCounter()
    seen = []
    for email in ("has-account@example.com", "no-account@example.com"):
        with counter.measure() as calls:
            reply = acme.invite(email)
        seen.append(
            (
                reply.status,
                [*sorted(reply.body), reply.body["expires_at"]],
                {k: v for k, v in calls.items() if k.startswith(("dynamodb", "ses"))},
            )
        )
    assert seen[0] == seen[1]
    assert [len(h.emails(e)) for e in ("has-account@example.com", "no-account@example.com")] == [1, 1]


def test_declining_tells_the_inviter_and_leaves_no_membership(h):
    acme = Acme(h)
    h.sign_up(INVITED)
    acme.invite(INVITED)
    token = h.invitation_token(INVITED, acme.org_id)
    session = h.session(INVITED)
    declined = h.delete(f"/v1/me/invitations/{acme.org_id}", token=session)
    assert declined.status == 204
    assert h.emails(OWNER)[-1]["subject"] == f"{INVITED} declined to join Acme"
    assert error(acme.accept(session, token)) == (404, "not_found")
    assert error(h.delete(f"/v1/me/invitations/{acme.org_id}", token=session)) == (404, "not_found")
    assert set(acme.members()) == {OWNER}
    assert acme.audit()[("invitation_declined", user_id(h, session))] == 1


def test_who_may_invite_whom(h):
    acme = Acme(h)
    admin, _, _ = h.user_with_two_factor(ADMIN)
    h.sign_up(MEMBER)
    assert h.join(acme.org_id, acme.owner, ADMIN, role="admin", session=admin).status == 200
    assert h.join(acme.org_id, acme.owner, MEMBER).status == 200
    member = h.session(MEMBER)
    h.sign_up("outsider@example.com")
    outsider = h.session("outsider@example.com")

    assert acme.invite("new@example.com", token=admin).status == 201
    assert error(acme.invite("new-admin@example.com", role="admin", token=admin)) == (403, "forbidden")
    assert error(acme.invite("new@example.com", token=member)) == (403, "forbidden")
    assert error(acme.invite("new@example.com", token=outsider)) == (403, "forbidden")
    assert error(acme.invite(MEMBER)) == (409, "already_member")
    assert error(acme.invite("x@example.com", role="owner")) == (400, "invalid_request")
    assert error(h.invite("00000000-0000-4000-8000-000000000000", acme.owner, "x@example.com")) == (404, "not_found")
    bad = h.post(f"/v1/orgs/{acme.org_id}/invitations", {"email": "not an email", "role": "member"}, token=acme.owner)
    assert error(bad) == (400, "invalid_request")


# -- 2FA before joining (S19) ----------------------------------------------------------------------


def test_under_enforcement_new_members_enroll_before_joining_with_the_same_token(h):
    acme = Acme(h)
    assert h.put(f"/v1/orgs/{acme.org_id}/security", {"require_two_factor": True}, token=acme.owner).status == 200
    h.sign_up(INVITED)
    acme.invite(INVITED)
    token = h.invitation_token(INVITED, acme.org_id)
    session = h.session(INVITED)
    listed = h.get("/v1/me/invitations", token=session).body["invitations"]
    assert listed[0]["require_two_factor"] is True

    refused = acme.accept(session, token)
    assert error(refused) == (409, "two_factor_required")
    assert "enroll" in refused.body["error"]["message"]
    assert set(acme.members()) == {OWNER}

    h.enroll(session)
    accepted = acme.accept(session, token)
    assert (accepted.status, accepted.body["status"], accepted.body["deadline"]) == (200, "compliant", None)
    # An SSO member owes nothing, so may join without 2FA.
    h.sign_up("sso@example.com")
    acme.invite("sso@example.com", sso=True)
    sso = acme.accept(h.session("sso@example.com"), h.invitation_token("sso@example.com", acme.org_id))
    assert (sso.status, sso.body["status"]) == (200, "exempt")


# -- roles -----------------------------------------------------------------------------------------


def test_owners_change_roles_and_the_member_is_told(h):
    acme = Acme(h)
    h.sign_up(MEMBER)
    h.join(acme.org_id, acme.owner, MEMBER)
    member_id = acme.members()[MEMBER]["user_id"]
    changed = h.put(f"/v1/orgs/{acme.org_id}/members/{member_id}", {"role": "admin"}, token=acme.owner)
    assert changed.status == 200
    assert changed.body == acme.members()[MEMBER]
    assert changed.body["role"] == "admin"
    assert h.emails(MEMBER)[-1]["subject"] == "Your role in Acme changed"
    sso = h.put(f"/v1/orgs/{acme.org_id}/members/{member_id}", {"role": "member", "sso": True}, token=acme.owner)
    assert (sso.body["role"], sso.body["sso"], sso.body["status"]) == ("member", True, "not_required")
    assert acme.audit()[("member_changed", user_id(h, acme.owner))] == 2

    admin = h.session(MEMBER)
    assert error(h.put(f"/v1/orgs/{acme.org_id}/members/{member_id}", {"role": "admin"}, token=admin)) == (
        403,
        "forbidden",
    )
    for body in ({"role": "king"}, {"sso": "yes"}, {"role": "admin", "email": "x"}):
        assert error(h.put(f"/v1/orgs/{acme.org_id}/members/{member_id}", body, token=acme.owner)) == (
            400,
            "invalid_request",
        )
    unknown = "00000000-0000-4000-8000-000000000000"
    assert error(h.put(f"/v1/orgs/{acme.org_id}/members/{unknown}", {"role": "admin"}, token=acme.owner)) == (
        404,
        "not_found",
    )


def test_a_role_change_that_would_owe_two_factor_without_it_is_refused_under_enforcement(h):
    acme = Acme(h)
    h.sign_up("sso@example.com")
    h.join(acme.org_id, acme.owner, "sso@example.com", sso=True)
    sso_id = acme.members()["sso@example.com"]["user_id"]
    h.put(f"/v1/orgs/{acme.org_id}/security", {"require_two_factor": True}, token=acme.owner)
    for body in ({"role": "admin"}, {"sso": False}):
        refused = h.put(f"/v1/orgs/{acme.org_id}/members/{sso_id}", body, token=acme.owner)
        assert error(refused) == (409, "two_factor_required")
    assert acme.members()["sso@example.com"]["status"] == "exempt"


@pytest.mark.parametrize("change_first", [True, False])
def test_a_role_change_against_turning_enforcement_on(h, monkeypatch, change_first):
    """An SSO member without 2FA loses the exemption while enforcement is turned on."""
    acme = Acme(h)
    h.sign_up("sso@example.com")
    h.join(acme.org_id, acme.owner, "sso@example.com", sso=True)
    sso_id = acme.members()["sso@example.com"]["user_id"]
    admin, _, _ = h.user_with_two_factor(ADMIN)
    h.join(acme.org_id, acme.owner, ADMIN, role="admin", session=admin)
    change = lambda: h.put(f"/v1/orgs/{acme.org_id}/members/{sso_id}", {"sso": False}, token=acme.owner)  # noqa: E731
    require = lambda: h.put(f"/v1/orgs/{acme.org_id}/security", {"require_two_factor": True}, token=admin)  # noqa: E731

    race = WorstInterleaving(monkeypatch, 2, "change_member", "set_enforcement")
    if change_first:
        changed, required = race.run(change, require)
        assert (changed.status, required.status) == (200, 200)
        row = acme.members()["sso@example.com"]
        assert (row["status"], row["deadline"]) == ("pending", required.body["deadline"])
    else:
        required, changed = race.run(require, change)
        assert required.status == 200
        assert error(changed) == (409, "two_factor_required")
        assert acme.members()["sso@example.com"]["status"] == "exempt"


def test_owners_without_two_factor_are_made_and_unmade_while_it_is_not_required(h):
    """The owner count and the policy are one item, which a transaction may touch only once:
    found by the OpenAPI fuzzing as a 503 for every such change (tests/test_openapi.py)."""
    h.sign_up(OWNER)
    owner = h.session(OWNER)
    org_id = h.post("/v1/orgs", {"name": "Plain", "plan": "team"}, token=owner).body["org_id"]
    h.sign_up(MEMBER)
    assert h.join(org_id, owner, MEMBER).status == 200
    ids = {row["email"]: row["user_id"] for row in h.get(f"/v1/orgs/{org_id}/members", token=owner).body["members"]}

    promoted = h.put(f"/v1/orgs/{org_id}/members/{ids[MEMBER]}", {"role": "owner"}, token=owner)
    assert (promoted.status, promoted.body["role"]) == (200, "owner")
    demoted = h.put(f"/v1/orgs/{org_id}/members/{ids[OWNER]}", {"role": "admin"}, token=owner)
    assert (demoted.status, demoted.body["role"]) == (200, "admin")
    last = h.put(f"/v1/orgs/{org_id}/members/{ids[MEMBER]}", {"role": "member"}, token=h.session(MEMBER))
    assert error(last) == (409, "last_owner")


@pytest.mark.parametrize("change_first", [True, False])
def test_making_an_owner_without_two_factor_against_turning_enforcement_on(h, monkeypatch, change_first):
    acme = Acme(h)
    h.sign_up(MEMBER)
    h.join(acme.org_id, acme.owner, MEMBER)
    member_id = acme.members()[MEMBER]["user_id"]
    admin, _, _ = h.user_with_two_factor(ADMIN)
    h.join(acme.org_id, acme.owner, ADMIN, role="admin", session=admin)
    promote = lambda: h.put(f"/v1/orgs/{acme.org_id}/members/{member_id}", {"role": "owner"}, token=acme.owner)  # noqa: E731
    require = lambda: h.put(f"/v1/orgs/{acme.org_id}/security", {"require_two_factor": True}, token=admin)  # noqa: E731

    race = WorstInterleaving(monkeypatch, 2, "change_member", "set_enforcement")
    if change_first:
        promoted, required = race.run(promote, require)
        assert (promoted.status, required.status) == (200, 200)
        assert acme.members()[MEMBER]["status"] == "pending"
    else:
        required, promoted = race.run(require, promote)
        assert required.status == 200
        assert error(promoted) == (409, "two_factor_required")
        assert acme.members()[MEMBER]["role"] == "member"


# -- leaving and removal ---------------------------------------------------------------------------


def test_who_may_remove_whom(h):
    acme = Acme(h)
    admin, _, _ = h.user_with_two_factor(ADMIN)
    h.join(acme.org_id, acme.owner, ADMIN, role="admin", session=admin)
    h.user_with_two_factor("second-admin@example.com")
    h.join(acme.org_id, acme.owner, "second-admin@example.com", role="admin")
    h.sign_up(MEMBER)
    h.join(acme.org_id, acme.owner, MEMBER)
    ids = {email: row["user_id"] for email, row in acme.members().items()}
    member = h.session(MEMBER)

    def remove(email: str, token: str):
        return h.delete(f"/v1/orgs/{acme.org_id}/members/{ids[email]}", token=token)

    assert error(remove(OWNER, admin)) == (403, "forbidden")
    assert error(remove("second-admin@example.com", admin)) == (403, "forbidden")
    assert error(remove(ADMIN, member)) == (403, "forbidden")
    assert remove(MEMBER, admin).status == 204
    assert h.emails(MEMBER)[-1]["subject"] == "You were removed from Acme"
    assert remove("second-admin@example.com", acme.owner).status == 204
    assert error(remove(MEMBER, acme.owner)) == (404, "not_found")
    assert remove(ADMIN, admin).status == 204  # leaving
    assert set(acme.members()) == {OWNER}
    audit = acme.audit()
    assert audit[("member_removed", ids[ADMIN])] == 1
    assert audit[("member_removed", ids[OWNER])] == 1
    assert audit[("member_left", ids[ADMIN])] == 1


def test_the_last_owner_cannot_leave_or_be_demoted(h):
    acme = Acme(h)
    owner_id = user_id(h, acme.owner)
    assert error(h.delete(f"/v1/orgs/{acme.org_id}/members/{owner_id}", token=acme.owner)) == (409, "last_owner")
    demoted = h.put(f"/v1/orgs/{acme.org_id}/members/{owner_id}", {"role": "admin"}, token=acme.owner)
    assert error(demoted) == (409, "last_owner")
    # With a second owner, one of them may go.
    second, _, _ = h.user_with_two_factor("second@example.com")
    h.join(acme.org_id, acme.owner, "second@example.com", role="admin", session=second)
    second_id = user_id(h, second)
    assert h.put(f"/v1/orgs/{acme.org_id}/members/{second_id}", {"role": "owner"}, token=acme.owner).status == 200
    assert h.delete(f"/v1/orgs/{acme.org_id}/members/{owner_id}", token=acme.owner).status == 204
    assert error(h.delete(f"/v1/orgs/{acme.org_id}/members/{second_id}", token=second)) == (409, "last_owner")


@pytest.mark.parametrize("first", [0, 1])
def test_two_owners_leaving_at_once_leave_one_owner(h, monkeypatch, first):
    acme = Acme(h)
    second, _, _ = h.user_with_two_factor("second@example.com")
    h.join(acme.org_id, acme.owner, "second@example.com", role="admin", session=second)
    second_id = user_id(h, second)
    h.put(f"/v1/orgs/{acme.org_id}/members/{second_id}", {"role": "owner"}, token=acme.owner)
    owners = [(acme.owner, user_id(h, acme.owner)), (second, second_id)]
    leave = [lambda t=t, u=u: h.delete(f"/v1/orgs/{acme.org_id}/members/{u}", token=t) for t, u in owners]

    race = WorstInterleaving(monkeypatch, 2, "remove_member")
    replies = race.run(leave[first], leave[1 - first])
    assert [r.status for r in replies] == [204, 409]
    assert replies[1].body["error"]["code"] == "last_owner"
    remaining = owners[1 - first][0]
    rows = h.get(f"/v1/orgs/{acme.org_id}/members", token=remaining).body["members"]
    assert [row["role"] for row in rows] == ["owner"]


def test_leaving_ends_the_organizations_hold_but_not_the_sessions(h):
    acme = Acme(h)
    member, secret, _ = h.user_with_two_factor(MEMBER)
    h.join(acme.org_id, acme.owner, MEMBER, session=member)
    h.put(f"/v1/orgs/{acme.org_id}/security", {"require_two_factor": True}, token=acme.owner)
    h.drain()
    h.clock.advance(30)
    refused = h.post("/v1/me/two-factor/disable", {"code": h.code(secret)}, token=member)
    assert error(refused) == (409, "org_requires_two_factor")

    assert h.delete(f"/v1/orgs/{acme.org_id}/members/{user_id(h, member)}", token=member).status == 204
    assert h.get("/v1/me/security", token=member).body["organizations"] == []
    assert h.post("/v1/me/two-factor/disable", {"code": h.code(secret)}, token=member).status == 200
    # No notice of Acme's reaches them any more.
    h.clock.advance(23 * DAY)
    h.sweep()
    assert not [e for e in h.emails(MEMBER) if "left to turn on" in e["subject"]]


def test_a_removed_member_keeps_their_sessions_and_owes_the_organization_nothing(h):
    acme = Acme(h)
    h.sign_up(MEMBER)
    h.join(acme.org_id, acme.owner, MEMBER)
    h.put(f"/v1/orgs/{acme.org_id}/security", {"require_two_factor": True}, token=acme.owner)
    h.clock.advance(30 * DAY - 3600)
    session = h.session(MEMBER)
    owner = h.session_with_code(OWNER)
    member_id = user_id(h, session)
    assert h.delete(f"/v1/orgs/{acme.org_id}/members/{member_id}", token=owner).status == 204
    h.clock.advance(3600)  # Acme's deadline passes
    assert h.get("/v1/me/security", token=session).status == 200
    signed_in = h.sign_in(MEMBER)
    assert signed_in.body["status"] == "signed_in" and "two_factor_deadline" not in signed_in.body
    h.sweep()
    assert not [e for e in h.emails(MEMBER) if e["subject"] == "Two-factor authentication is now required"]


# -- limits on inviting ----------------------------------------------------------------------------


def test_an_inviter_may_send_twenty_invitations_an_hour(h):
    acme = Acme(h)
    h.clock.set("2026-11-27T10:00:00Z")
    owner = h.session_with_code(OWNER)
    for number in range(20):
        assert acme.invite(f"person{number}@example.com", token=owner).status == 201
    h.clock.set("2026-11-27T10:59:00Z")
    refused = acme.invite("one-more@example.com", token=owner)
    assert error(refused) == (429, "too_many_attempts")
    assert refused.headers["Retry-After"] == "60"
    assert h.emails("one-more@example.com") == []
    h.clock.set("2026-11-27T11:00:00Z")
    assert acme.invite("one-more@example.com", token=owner).status == 201


def test_an_organization_may_send_a_hundred_invitations_a_day(h, monkeypatch):
    monkeypatch.setattr(membership, "INVITER_HOURLY_INVITATIONS", 1000)
    acme = Acme(h)
    start = h.clock.now()
    for number in range(100):
        assert acme.invite(f"person{number}@example.com").status == 201
    refused = acme.invite("one-more@example.com")
    assert error(refused) == (429, "too_many_attempts")
    assert int(refused.headers["Retry-After"]) == 86400 - start % 86400
    assert Counter(i["pk"]["S"].split("#")[0] for i in h.table_items())["INVITE"] == 100
