"""Organizations API (API.md "Organizations") and the enforcement rules it applies:
plan gating, roles, SSO exemption, deadlines, turning enforcement off and on, and
the 2FA-disable guard."""

from __future__ import annotations

from chalicelib.clock import format_time, parse_time
from chalicelib.enforcement import DAY
from devkit.harness import Harness

OWNER = "owner@example.com"
MEMBER = "member@example.com"
GRACE = 30 * DAY


def create_org(h: Harness, token: str, name: str = "Acme", plan: str = "business") -> str:
    reply = h.post("/v1/orgs", {"name": name, "plan": plan}, token=token)
    assert reply.status == 201, reply
    return str(reply.body["org_id"])


def add(h: Harness, org_id: str, token: str, email: str, role: str = "member", sso: bool | None = None):
    body: dict[str, object] = {"email": email, "role": role}
    if sso is not None:
        body["sso"] = sso
    return h.post(f"/v1/orgs/{org_id}/members", body, token=token)


def require(h: Harness, org_id: str, token: str, on: bool = True):
    return h.put(f"/v1/orgs/{org_id}/security", {"require_two_factor": on}, token=token)


def owner_org(h: Harness, plan: str = "business") -> tuple[str, str, str]:
    """(owner session, owner TOTP secret, org id) for an owner with 2FA on."""
    token, secret, _ = h.user_with_two_factor(OWNER)
    return token, secret, create_org(h, token, plan=plan)


def member_rows(h: Harness, org_id: str, token: str) -> dict[str, dict]:
    reply = h.get(f"/v1/orgs/{org_id}/security", token=token)
    assert reply.status == 200, reply
    return {row["email"]: row for row in reply.body["members"]}


def fresh_session(h: Harness, email: str, secret: str) -> str:
    """A new session for a user with 2FA (sessions last 12 hours; tests move days ahead)."""
    reply = h.sign_in_with_code(email, secret)
    assert reply.status == 200, reply
    return str(reply.body["session_token"])


def error_code(reply) -> str:
    return reply.body["error"]["code"]


# -- POST /v1/orgs -------------------------------------------------------------------------------


def test_create_org_makes_the_caller_its_owner(h):
    h.sign_up(OWNER)
    token = h.session(OWNER)
    reply = h.post("/v1/orgs", {"name": "Acme", "plan": "team"}, token=token)
    assert reply.status == 201
    assert reply.body == {"org_id": reply.body["org_id"], "name": "Acme", "plan": "team"}
    rows = member_rows(h, reply.body["org_id"], token)
    assert list(rows) == [OWNER]
    assert rows[OWNER]["role"] == "owner"
    assert rows[OWNER]["status"] == "not_required"
    me = h.get("/v1/me/security", token=token).body
    assert me["organizations"] == [
        {
            "org_id": reply.body["org_id"],
            "name": "Acme",
            "role": "owner",
            "require_two_factor": False,
            "status": "not_required",
            "deadline": None,
        }
    ]


def test_create_org_refuses_a_bad_body(h):
    h.sign_up(OWNER)
    token = h.session(OWNER)
    for body in (
        {"name": "Acme", "plan": "platinum"},
        {"name": "Acme", "plan": "Business"},
        {"name": "Acme"},
        {"name": "", "plan": "free"},
        {"name": "Acme", "plan": "free", "owner": "someone"},
    ):
        reply = h.post("/v1/orgs", body, token=token)
        assert (reply.status, error_code(reply)) == (400, "invalid_request"), body
    assert h.get("/v1/me/security", token=token).body["organizations"] == []


def test_create_org_needs_a_session(h):
    assert h.post("/v1/orgs", {"name": "Acme", "plan": "free"}).status == 401


# -- POST /v1/orgs/{org_id}/members ----------------------------------------------------------------


def test_add_member_answers_with_status_and_deadline(h):
    owner, _, org_id = owner_org(h)
    user_id = h.sign_up(MEMBER)
    reply = add(h, org_id, owner, MEMBER)
    assert reply.status == 201
    assert reply.body == {
        "user_id": user_id,
        "role": "member",
        "sso": False,
        "status": "not_required",
        "deadline": None,
    }
    h.sign_up("sso@example.com")
    reply = add(h, org_id, owner, "SSO@Example.com", sso=True)
    assert reply.status == 201
    assert reply.body["sso"] is True
    assert set(member_rows(h, org_id, owner)) == {OWNER, MEMBER, "sso@example.com"}


def test_add_member_errors(h):
    owner, _, org_id = owner_org(h)
    h.sign_up(MEMBER)
    h.sign_up("outsider@example.com")
    h.sign_up("other@example.com")

    unknown_user = add(h, org_id, owner, "nobody@example.com")
    assert (unknown_user.status, error_code(unknown_user)) == (404, "not_found")

    assert add(h, org_id, owner, MEMBER).status == 201
    again = add(h, org_id, owner, MEMBER, role="admin")
    assert (again.status, error_code(again)) == (409, "already_member")
    owner_again = add(h, org_id, owner, OWNER)
    assert (owner_again.status, error_code(owner_again)) == (409, "already_member")

    by_member = add(h, org_id, h.session(MEMBER), "other@example.com")
    assert (by_member.status, error_code(by_member)) == (403, "forbidden")
    by_outsider = add(h, org_id, h.session("outsider@example.com"), "other@example.com")
    assert (by_outsider.status, error_code(by_outsider)) == (403, "forbidden")

    unknown_org = add(h, "00000000-0000-4000-8000-000000000000", owner, "other@example.com")
    assert (unknown_org.status, error_code(unknown_org)) == (404, "not_found")

    bad_role = add(h, org_id, owner, "other@example.com", role="owner")
    assert (bad_role.status, error_code(bad_role)) == (400, "invalid_request")
    # None of the refused requests added anyone.
    assert set(member_rows(h, org_id, owner)) == {OWNER, MEMBER}


def test_an_admin_can_add_members(h):
    owner, _, org_id = owner_org(h)
    h.sign_up("admin@example.com")
    h.sign_up(MEMBER)
    assert add(h, org_id, owner, "admin@example.com", role="admin").status == 201
    reply = add(h, org_id, h.session("admin@example.com"), MEMBER)
    assert reply.status == 201
    assert member_rows(h, org_id, owner)[MEMBER]["role"] == "member"


# -- PUT /v1/orgs/{org_id}/security ----------------------------------------------------------------


def test_require_two_factor_answers_with_the_policy(h):
    owner, _, org_id = owner_org(h)
    reply = require(h, org_id, owner)
    assert reply.status == 200
    assert reply.body == {
        "require_two_factor": True,
        "enforced_at": format_time(h.clock.now()),
        "grace_period_days": 30,
    }
    off = require(h, org_id, owner, on=False)
    assert off.status == 200
    assert off.body == {"require_two_factor": False, "enforced_at": None, "grace_period_days": 30}


def test_enforcement_needs_business_or_enterprise(h):
    owner, _, _ = h.user_with_two_factor(OWNER)
    h.sign_up(MEMBER)
    for plan in ("free", "team"):
        org_id = create_org(h, owner, name=plan, plan=plan)
        add(h, org_id, owner, MEMBER)
        reply = require(h, org_id, owner)
        assert (reply.status, error_code(reply)) == (403, "plan_required")
        policy = h.get(f"/v1/orgs/{org_id}/security", token=owner).body
        assert policy["require_two_factor"] is False
        assert {row["email"]: row["status"] for row in policy["members"]}[MEMBER] == "not_required"
    assert h.emails(MEMBER) == []
    for plan in ("business", "enterprise"):
        org_id = create_org(h, owner, name=plan, plan=plan)
        add(h, org_id, owner, MEMBER)
        assert require(h, org_id, owner).status == 200
    assert len(h.emails(MEMBER)) == 2


def test_a_plain_member_cannot_change_or_read_the_policy(h):
    owner, _, org_id = owner_org(h)
    # A member with their own 2FA on still may not change it: the role decides.
    member_session, _, _ = h.user_with_two_factor(MEMBER)
    add(h, org_id, owner, MEMBER)
    reply = require(h, org_id, member_session)
    assert (reply.status, error_code(reply)) == (403, "forbidden")
    read = h.get(f"/v1/orgs/{org_id}/security", token=member_session)
    assert (read.status, error_code(read)) == (403, "forbidden")
    assert h.get(f"/v1/orgs/{org_id}/security", token=owner).body["require_two_factor"] is False


def test_an_outsider_cannot_change_the_policy_and_an_unknown_org_is_not_found(h):
    owner, _, org_id = owner_org(h)
    outsider, _, _ = h.user_with_two_factor("outsider@example.com")
    reply = require(h, org_id, outsider)
    assert (reply.status, error_code(reply)) == (403, "forbidden")
    unknown = require(h, "00000000-0000-4000-8000-000000000000", owner)
    assert (unknown.status, error_code(unknown)) == (404, "not_found")
    unknown_read = h.get("/v1/orgs/00000000-0000-4000-8000-000000000000/security", token=owner)
    assert (unknown_read.status, error_code(unknown_read)) == (404, "not_found")


def test_turning_enforcement_on_needs_own_two_factor(h):
    h.sign_up(OWNER)
    owner = h.session(OWNER)
    org_id = create_org(h, owner)
    h.sign_up(MEMBER)
    add(h, org_id, owner, MEMBER)
    reply = require(h, org_id, owner)
    assert (reply.status, error_code(reply)) == (409, "actor_two_factor_required")
    assert member_rows(h, org_id, owner)[MEMBER]["status"] == "not_required"
    assert h.emails(MEMBER) == []
    # Turning it off never needs 2FA.
    assert require(h, org_id, owner, on=False).status == 200


def test_an_admin_with_two_factor_can_require_it(h):
    owner, _, org_id = owner_org(h)
    admin, _, _ = h.user_with_two_factor("admin@example.com")
    add(h, org_id, owner, "admin@example.com", role="admin")
    reply = require(h, org_id, admin)
    assert reply.status == 200
    assert reply.body["require_two_factor"] is True
    policy = h.get(f"/v1/orgs/{org_id}/security", token=admin)
    assert policy.status == 200
    assert policy.body["require_two_factor"] is True
    assert {row["email"]: row["role"] for row in policy.body["members"]} == {
        OWNER: "owner",
        "admin@example.com": "admin",
    }


def test_policy_body_is_validated(h):
    owner, _, org_id = owner_org(h)
    for body in ({"require_two_factor": "yes"}, {}, {"require_two_factor": True, "grace_period_days": 5}):
        reply = h.put(f"/v1/orgs/{org_id}/security", body, token=owner)
        assert (reply.status, error_code(reply)) == (400, "invalid_request")


# -- GET /v1/orgs/{org_id}/security and member status ---------------------------------------------


def test_member_statuses_when_enforcement_starts(h):
    owner, _, org_id = owner_org(h)
    h.sign_up(MEMBER)
    h.sign_up("sso-member@example.com")
    h.sign_up("sso-admin@example.com")
    h.user_with_two_factor("enrolled@example.com")
    add(h, org_id, owner, MEMBER)
    add(h, org_id, owner, "sso-member@example.com", sso=True)
    add(h, org_id, owner, "sso-admin@example.com", role="admin", sso=True)
    add(h, org_id, owner, "enrolled@example.com")
    started = h.clock.now()
    assert require(h, org_id, owner).status == 200
    deadline = format_time(started + GRACE)

    policy = h.get(f"/v1/orgs/{org_id}/security", token=owner).body
    assert policy["require_two_factor"] is True
    assert policy["enforced_at"] == format_time(started)
    rows = {row["email"]: row for row in policy["members"]}
    assert {email: (row["status"], row["deadline"]) for email, row in rows.items()} == {
        OWNER: ("compliant", None),
        MEMBER: ("pending", deadline),
        "sso-member@example.com": ("exempt", None),
        "sso-admin@example.com": ("pending", deadline),  # SSO admins are never exempt
        "enrolled@example.com": ("compliant", None),
    }
    assert rows[MEMBER]["two_factor_enabled"] is False
    assert rows["enrolled@example.com"]["two_factor_enabled"] is True
    assert rows["sso-admin@example.com"] | {"user_id": None} == {
        "user_id": None,
        "email": "sso-admin@example.com",
        "role": "admin",
        "sso": True,
        "two_factor_enabled": False,
        "status": "pending",
        "deadline": deadline,
    }

    # Only members who owe enrollment are told, naming the organization and the date.
    for email in (MEMBER, "sso-admin@example.com"):
        [started_email] = h.emails(email)
        assert started_email["subject"] == "Acme requires two-factor authentication"
        assert deadline in started_email["body"]
    assert h.emails("sso-member@example.com") == []
    assert [e["subject"] for e in h.emails("enrolled@example.com")] == ["Two-factor authentication is on"]
    assert [e["subject"] for e in h.emails(OWNER)] == ["Two-factor authentication is on"]

    # The member sees the same status and deadline.
    me = h.get("/v1/me/security", token=h.session(MEMBER)).body
    [org] = me["organizations"]
    assert (org["status"], org["deadline"], org["require_two_factor"]) == ("pending", deadline, True)


def test_setting_the_same_policy_again_keeps_deadlines(h):
    owner, secret, org_id = owner_org(h)
    h.sign_up(MEMBER)
    add(h, org_id, owner, MEMBER)
    require(h, org_id, owner)
    deadline = member_rows(h, org_id, owner)[MEMBER]["deadline"]
    h.clock.advance(5 * DAY)
    owner = fresh_session(h, OWNER, secret)
    assert require(h, org_id, owner).status == 200
    assert member_rows(h, org_id, owner)[MEMBER]["deadline"] == deadline
    assert len(h.emails(MEMBER)) == 1  # no second "enforcement started"


def test_sso_member_is_exempt_everywhere(h):
    owner, secret, org_id = owner_org(h)
    h.sign_up("sso@example.com")
    add(h, org_id, owner, "sso@example.com", sso=True)
    require(h, org_id, owner)
    h.clock.advance(GRACE + DAY)
    owner = fresh_session(h, OWNER, secret)
    h.sweep()
    reply = h.sign_in("sso@example.com")
    assert reply.body["status"] == "signed_in"
    assert "two_factor_deadline" not in reply.body
    assert member_rows(h, org_id, owner)["sso@example.com"]["status"] == "exempt"
    assert h.emails("sso@example.com") == []


def test_sso_admin_is_locked_after_the_deadline(h):
    owner, secret, org_id = owner_org(h)
    h.sign_up("sso-admin@example.com")
    add(h, org_id, owner, "sso-admin@example.com", role="admin", sso=True)
    require(h, org_id, owner)
    h.clock.advance(GRACE)
    owner = fresh_session(h, OWNER, secret)
    assert h.sign_in("sso-admin@example.com").body["status"] == "enrollment_required"
    assert member_rows(h, org_id, owner)["sso-admin@example.com"]["status"] == "locked"


# -- sign-in while enforcement runs ----------------------------------------------------------------


def test_pending_member_signs_in_with_the_deadline_and_locked_member_must_enroll(h):
    owner, secret, org_id = owner_org(h)
    h.sign_up(MEMBER)
    add(h, org_id, owner, MEMBER)
    require(h, org_id, owner)
    deadline = h.clock.now() + GRACE

    h.clock.set(deadline - 1)
    reply = h.sign_in(MEMBER)
    assert reply.body["status"] == "signed_in"
    assert reply.body["two_factor_deadline"] == format_time(deadline)

    h.clock.set(deadline)
    reply = h.sign_in(MEMBER)
    assert reply.status == 200
    assert reply.body["status"] == "enrollment_required"
    assert reply.body["organizations"] == [{"org_id": org_id, "name": "Acme"}]
    assert "session_token" not in reply.body
    assert member_rows(h, org_id, fresh_session(h, OWNER, secret))[MEMBER]["status"] == "locked"


def test_member_added_while_enforcement_is_on_is_due_at_once(h):
    owner, _, org_id = owner_org(h)
    require(h, org_id, owner)
    h.sign_up(MEMBER)
    h.clock.advance(60)
    reply = add(h, org_id, owner, MEMBER)
    assert reply.status == 201
    assert reply.body["status"] == "locked"
    assert reply.body["deadline"] == format_time(h.clock.now())
    assert member_rows(h, org_id, owner)[MEMBER]["status"] == "locked"
    signed_in = h.sign_in(MEMBER)
    assert signed_in.body["status"] == "enrollment_required"
    assert signed_in.body["organizations"] == [{"org_id": org_id, "name": "Acme"}]

    # Joining with 2FA already on, or as an SSO member, owes nothing.
    h.user_with_two_factor("enrolled@example.com")
    enrolled = add(h, org_id, owner, "enrolled@example.com")
    assert (enrolled.body["status"], enrolled.body["deadline"]) == ("compliant", None)
    h.sign_up("sso@example.com")
    sso = add(h, org_id, owner, "sso@example.com", sso=True)
    assert (sso.body["status"], sso.body["deadline"]) == ("exempt", None)
    assert h.sign_in("sso@example.com").body["status"] == "signed_in"


def test_in_two_organizations_the_earliest_deadline_governs(h):
    owner, owner_secret, first = owner_org(h)
    second = create_org(h, owner, name="Beta")
    h.sign_up(MEMBER)
    add(h, first, owner, MEMBER)
    add(h, second, owner, MEMBER)
    require(h, second, owner)
    second_deadline = h.clock.now() + GRACE
    h.clock.advance(5 * DAY)
    owner = fresh_session(h, OWNER, owner_secret)
    require(h, first, owner)
    first_deadline = h.clock.now() + GRACE
    assert second_deadline < first_deadline

    reply = h.sign_in(MEMBER)
    assert reply.body["two_factor_deadline"] == format_time(second_deadline)

    # Past the earlier deadline only: locked out by that organization alone.
    h.clock.set(second_deadline)
    reply = h.sign_in(MEMBER)
    assert reply.body["status"] == "enrollment_required"
    assert reply.body["organizations"] == [{"org_id": second, "name": "Beta"}]
    statuses = {
        o["name"]: o["status"]
        for o in h.get("/v1/me/security", token=reply.body["enrollment_token"]).body["organizations"]
    }
    assert statuses == {"Acme": "pending", "Beta": "locked"}

    # The later organization turning enforcement off changes nothing for the earlier.
    require(h, first, fresh_session(h, OWNER, owner_secret), on=False)
    assert h.sign_in(MEMBER).body["status"] == "enrollment_required"


# -- turning enforcement off and on ----------------------------------------------------------------


def test_turning_enforcement_off_clears_deadlines_and_reminders(h):
    owner, secret, org_id = owner_org(h)
    h.sign_up(MEMBER)
    add(h, org_id, owner, MEMBER)
    require(h, org_id, owner)
    started = h.clock.now()
    h.clock.advance(DAY)
    owner = fresh_session(h, OWNER, secret)
    assert require(h, org_id, owner, on=False).status == 200

    row = member_rows(h, org_id, owner)[MEMBER]
    assert (row["status"], row["deadline"]) == ("not_required", None)
    before = len(h.emails())
    # No reminder or lockout at any of the old notice times, and no enrollment demand.
    for day in (23, 27, 29, 30, 31):
        h.clock.set(started + day * DAY)
        assert h.sweep() == {"reminders_sent": 0, "lockouts": 0, "resets_completed": 0}
    assert len(h.emails()) == before
    reply = h.sign_in(MEMBER)
    assert reply.body["status"] == "signed_in"
    assert "two_factor_deadline" not in reply.body
    assert not any("due_pk" in item for item in h.table_items() if item["sk"]["S"].startswith("MEMBER#"))


def test_turning_enforcement_on_again_gives_fresh_deadlines_and_notices(h):
    owner, secret, org_id = owner_org(h)
    h.sign_up(MEMBER)
    add(h, org_id, owner, MEMBER)
    require(h, org_id, owner)
    first_deadline = h.clock.now() + GRACE
    h.clock.set(first_deadline - 7 * DAY)
    assert h.sweep()["reminders_sent"] == 1  # the 7-day reminder of the first round
    owner = fresh_session(h, OWNER, secret)

    require(h, org_id, owner, on=False)
    h.clock.advance(3600)
    require(h, org_id, owner)
    second_deadline = h.clock.now() + GRACE
    row = member_rows(h, org_id, owner)[MEMBER]
    assert (row["status"], row["deadline"]) == ("pending", format_time(second_deadline))
    subjects = [e["subject"] for e in h.emails(MEMBER)]
    assert subjects == [
        "Acme requires two-factor authentication",
        "7 days left to turn on two-factor authentication",
        "Acme requires two-factor authentication",
    ]
    assert format_time(second_deadline) in h.emails(MEMBER)[-1]["body"]

    # The old deadline no longer locks the member out...
    h.clock.set(first_deadline + DAY)
    assert h.sweep()["lockouts"] == 0
    assert h.sign_in(MEMBER).body["two_factor_deadline"] == format_time(second_deadline)
    # ...and the new round starts its notices from the beginning.
    h.clock.set(second_deadline - 7 * DAY)
    assert h.sweep()["reminders_sent"] == 1
    assert h.emails(MEMBER)[-1]["subject"] == "7 days left to turn on two-factor authentication"
    assert format_time(second_deadline) in h.emails(MEMBER)[-1]["body"]


# -- disabling 2FA while an organization requires it ----------------------------------------------


def test_disable_is_refused_while_required_and_allowed_after(h):
    owner, secret, org_id = owner_org(h)
    member, member_secret, _ = h.user_with_two_factor(MEMBER)
    add(h, org_id, owner, MEMBER)
    require(h, org_id, owner)

    refused = h.post("/v1/me/two-factor/disable", {"code": h.code(member_secret)}, token=member)
    assert (refused.status, error_code(refused)) == (409, "org_requires_two_factor")
    assert h.get("/v1/me/security", token=member).body["two_factor"]["enabled"] is True
    owner_refused = h.post("/v1/me/two-factor/disable", {"code": h.code(secret)}, token=owner)
    assert (owner_refused.status, error_code(owner_refused)) == (409, "org_requires_two_factor")

    require(h, org_id, owner, on=False)
    h.clock.advance(30)
    allowed = h.post("/v1/me/two-factor/disable", {"code": h.code(member_secret)}, token=member)
    assert (allowed.status, allowed.body) == (200, {"enabled": False})
    assert h.get("/v1/me/security", token=member).body["two_factor"]["enabled"] is False


def test_an_sso_member_may_disable_while_required(h):
    owner, _, org_id = owner_org(h)
    session, secret, _ = h.user_with_two_factor("sso@example.com")
    add(h, org_id, owner, "sso@example.com", sso=True)
    require(h, org_id, owner)
    reply = h.post("/v1/me/two-factor/disable", {"code": h.code(secret)}, token=session)
    assert reply.status == 200


# -- large organizations -----------------------------------------------------------------------------


def test_a_failed_policy_change_on_a_large_org_is_completed_by_a_retry(h, monkeypatch):
    """More members than one DynamoDB transaction holds: the change is written in chunks.
    If a chunk fails the API answers 503, and trying again must give every member a
    deadline and the email, not leave some of them pending without one for ever.
    (Chunks of 10 instead of DynamoDB's 100: moto copies the table on every transaction.)"""
    from botocore.exceptions import ClientError

    from chalicelib import aws, repository, wiring
    from chalicelib.organizations import shard_for
    from chalicelib.records import Membership

    monkeypatch.setattr(repository, "TRANSACTION_LIMIT", 10)
    owner, _, org_id = owner_org(h)
    deps = wiring.dependencies()
    emails = [f"member{n}@example.com" for n in range(25)]
    for n, email in enumerate(emails):
        user_id = f"00000000-0000-4000-8000-{n:012d}"
        deps.repository.add_member(
            Membership(org_id, user_id, email, "member", False, h.clock.now(), shard=shard_for(user_id, 4))
        )

    calls = {"transactions": 0}

    def fail_the_second_transaction(**kwargs):
        calls["transactions"] += 1
        if calls["transactions"] == 2:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Slow down."}}, "TransactWriteItems")

    events = aws.client("dynamodb").meta.events
    events.register("before-call.dynamodb.TransactWriteItems", fail_the_second_transaction)
    failed = require(h, org_id, owner)
    events.unregister("before-call.dynamodb.TransactWriteItems", fail_the_second_transaction)
    assert (failed.status, error_code(failed)) == (503, "temporarily_unavailable")
    assert calls["transactions"] == 2
    # Nothing is in force yet, and nobody was told.
    policy = h.get(f"/v1/orgs/{org_id}/security", token=owner).body
    assert policy["require_two_factor"] is False
    assert {row["status"] for row in policy["members"]} == {"not_required"}
    assert not any(h.emails(email) for email in emails)

    retried = require(h, org_id, owner)
    assert retried.status == 200
    rows = member_rows(h, org_id, owner)
    deadline = format_time(parse_time(retried.body["enforced_at"]) + GRACE)
    assert {email: (rows[email]["status"], rows[email]["deadline"]) for email in emails} == {
        email: ("pending", deadline) for email in emails
    }
    assert all(len(h.emails(email)) == 1 for email in emails)


def test_a_policy_change_that_loses_a_race_answers_with_the_winners_policy(h, monkeypatch):
    """Two admins turn enforcement on at once: the loser's conditional write fails, and it
    gets the policy the winner set (with the winner's deadlines), not an error."""
    from chalicelib.repository import Repository

    owner, _, org_id = owner_org(h)
    h.sign_up(MEMBER)
    add(h, org_id, owner, MEMBER)
    original = Repository.set_enforcement
    winner_at = h.clock.now()

    def rival_first(self, org, members, expected_required, audit):
        monkeypatch.setattr(Repository, "set_enforcement", original)
        original(self, org, members, expected_required, audit)  # the other admin wins
        h.clock.advance(60)
        return original(self, org, members, expected_required, audit)

    monkeypatch.setattr(Repository, "set_enforcement", rival_first)
    reply = require(h, org_id, owner)
    assert reply.status == 200
    assert reply.body == {
        "require_two_factor": True,
        "enforced_at": format_time(winner_at),
        "grace_period_days": 30,
    }
    assert member_rows(h, org_id, owner)[MEMBER]["deadline"] == format_time(winner_at + GRACE)
