"""Organizations API (API.md "Organizations", "Enforcement") and the enforcement rules it
applies: plan gating, roles, SSO exemption, the organization's deadline, turning
enforcement off and on, and the 2FA-disable guard."""

from __future__ import annotations

from chalicelib.clock import format_time
from chalicelib.enforcement import DAY
from devkit.harness import Harness

OWNER = "owner@example.com"
MEMBER = "member@example.com"
GRACE = 30 * DAY
NO_COUNTS = {"compliant": 0, "pending": 0, "locked": 0, "exempt": 0, "not_required": 0}


def create_org(h: Harness, token: str, name: str = "Acme", plan: str = "business") -> str:
    reply = h.post("/v1/orgs", {"name": name, "plan": plan}, token=token)
    assert reply.status == 201, reply
    return str(reply.body["org_id"])


def add(h: Harness, org_id: str, token: str, email: str, role: str = "member", sso: bool = False, session=None):
    """Invite the user and accept for them (with `session`, or a new one)."""
    return h.join(org_id, token, email, role=role, sso=sso, session=session)


def require(h: Harness, org_id: str, token: str, on: bool = True):
    return h.put(f"/v1/orgs/{org_id}/security", {"require_two_factor": on}, token=token)


def owner_org(h: Harness, plan: str = "business") -> tuple[str, str, str]:
    """(owner session, owner TOTP secret, org id) for an owner with 2FA on."""
    token, secret, _ = h.user_with_two_factor(OWNER)
    return token, secret, create_org(h, token, plan=plan)


def member_rows(h: Harness, org_id: str, token: str) -> dict[str, dict]:
    reply = h.get(f"/v1/orgs/{org_id}/members?limit=100", token=token)
    assert reply.status == 200, reply
    assert reply.body["next_cursor"] is None
    return {row["email"]: row for row in reply.body["members"]}


def fresh_session(h: Harness, email: str, secret: str) -> str:
    """A new session for a user with 2FA (sessions last 12 hours; tests move days ahead)."""
    reply = h.sign_in_with_code(email, secret)
    assert reply.status == 200, reply
    return str(reply.body["session_token"])


def error_code(reply) -> str:
    return reply.body["error"]["code"]


def notices(h: Harness, to: str) -> list[dict]:
    """The emails to `to`, the invitations that made them members left out."""
    return [e for e in h.emails(to) if " invites you to " not in e["subject"]]


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


# -- PUT /v1/orgs/{org_id}/security ----------------------------------------------------------------


def test_require_two_factor_answers_with_the_policy_and_the_deadline(h):
    owner, _, org_id = owner_org(h)
    reply = require(h, org_id, owner)
    assert reply.status == 200
    assert reply.body == {
        "require_two_factor": True,
        "enforced_at": format_time(h.clock.now()),
        "grace_period_days": 30,
        "deadline": format_time(h.clock.now() + GRACE),
    }
    off = require(h, org_id, owner, on=False)
    assert off.status == 200
    assert off.body == {"require_two_factor": False, "enforced_at": None, "grace_period_days": 30, "deadline": None}


def test_enforcement_needs_business_or_enterprise(h):
    owner, _, _ = h.user_with_two_factor(OWNER)
    h.sign_up(MEMBER)
    for plan in ("free", "team"):
        org_id = create_org(h, owner, name=plan, plan=plan)
        add(h, org_id, owner, MEMBER)
        reply = require(h, org_id, owner)
        assert (reply.status, error_code(reply)) == (403, "plan_required")
        assert h.get(f"/v1/orgs/{org_id}/security", token=owner).body["require_two_factor"] is False
        assert member_rows(h, org_id, owner)[MEMBER]["status"] == "not_required"
    h.drain()
    assert notices(h, MEMBER) == []
    for plan in ("business", "enterprise"):
        org_id = create_org(h, owner, name=plan, plan=plan)
        add(h, org_id, owner, MEMBER)
        assert require(h, org_id, owner).status == 200
        h.clock.advance(60)  # different deadlines: one series of notices each
    h.drain()
    assert len(notices(h, MEMBER)) == 2


def test_a_plain_member_cannot_change_or_read_the_policy_or_the_members(h):
    owner, _, org_id = owner_org(h)
    # A member with their own 2FA on still may not change it: the role decides.
    member_session, _, _ = h.user_with_two_factor(MEMBER)
    add(h, org_id, owner, MEMBER)
    reply = require(h, org_id, member_session)
    assert (reply.status, error_code(reply)) == (403, "forbidden")
    for path in (f"/v1/orgs/{org_id}/security", f"/v1/orgs/{org_id}/members"):
        read = h.get(path, token=member_session)
        assert (read.status, error_code(read)) == (403, "forbidden")
    assert h.get(f"/v1/orgs/{org_id}/security", token=owner).body["require_two_factor"] is False


def test_an_outsider_cannot_change_the_policy_and_an_unknown_org_is_not_found(h):
    owner, _, org_id = owner_org(h)
    outsider, _, _ = h.user_with_two_factor("outsider@example.com")
    reply = require(h, org_id, outsider)
    assert (reply.status, error_code(reply)) == (403, "forbidden")
    for unknown in ("00000000-0000-4000-8000-000000000000", "not-an-id"):
        changed = require(h, unknown, owner)
        assert (changed.status, error_code(changed)) == (404, "not_found")
        for path in (f"/v1/orgs/{unknown}/security", f"/v1/orgs/{unknown}/members"):
            read = h.get(path, token=owner)
            assert (read.status, error_code(read)) == (404, "not_found")


def test_turning_enforcement_on_needs_own_two_factor(h):
    h.sign_up(OWNER)
    owner = h.session(OWNER)
    org_id = create_org(h, owner)
    h.sign_up(MEMBER)
    add(h, org_id, owner, MEMBER)
    reply = require(h, org_id, owner)
    assert (reply.status, error_code(reply)) == (409, "actor_two_factor_required")
    assert member_rows(h, org_id, owner)[MEMBER]["status"] == "not_required"
    h.drain()
    assert notices(h, MEMBER) == []
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
    assert {email: row["role"] for email, row in member_rows(h, org_id, admin).items()} == {
        OWNER: "owner",
        "admin@example.com": "admin",
    }


def test_policy_body_is_validated(h):
    owner, _, org_id = owner_org(h)
    for body in ({"require_two_factor": "yes"}, {}, {"require_two_factor": True, "grace_period_days": 5}):
        reply = h.put(f"/v1/orgs/{org_id}/security", body, token=owner)
        assert (reply.status, error_code(reply)) == (400, "invalid_request")


def test_the_policy_change_writes_the_organization_and_sends_nothing_itself(h):
    """O(1): the request writes the organization item and an audit event, then hands the
    "enforcement started" emails to the queue; the worker sends them."""
    owner, _, org_id = owner_org(h)
    for number in range(5):
        email = f"m{number}@example.com"
        h.sign_up(email)
        add(h, org_id, owner, email)
    before = {(i["pk"]["S"], i["sk"]["S"]): i for i in h.table_items()}
    emails = len(h.emails())
    assert require(h, org_id, owner).status == 200
    after = {(i["pk"]["S"], i["sk"]["S"]): i for i in h.table_items()}
    changed = {k for k in after if before.get(k) != after[k]}
    assert {pk.split("#")[0] for pk, _ in changed} == {"ORG", "AUDIT"}
    assert {sk for _, sk in changed if not sk.startswith("20")} == {"ORG"}  # no member item
    assert len(h.emails()) == emails
    assert h.waiting() == 1  # one fan-out message
    h.drain()
    assert len(h.emails()) == emails + 5


# -- GET /v1/orgs/{org_id}/security: counts --------------------------------------------------------


def test_counts_by_status_are_taken_in_the_background(h):
    owner, secret, org_id = owner_org(h)
    created = h.clock.now()
    h.sign_up(MEMBER)
    h.sign_up("sso-member@example.com")
    h.sign_up("sso-admin@example.com")
    h.user_with_two_factor("enrolled@example.com")
    add(h, org_id, owner, MEMBER)
    add(h, org_id, owner, "sso-member@example.com", sso=True)
    add(h, org_id, owner, "sso-admin@example.com", role="admin", sso=True)
    add(h, org_id, owner, "enrolled@example.com")

    # Counted when the organization was made: the owner alone, until a recount.
    first = h.get(f"/v1/orgs/{org_id}/security", token=owner).body
    assert first["counts"] == NO_COUNTS | {"not_required": 1}
    assert first["counts_as_of"] == format_time(created)
    h.clock.advance(16 * 60)
    stale = h.get(f"/v1/orgs/{org_id}/security", token=owner).body
    assert stale["counts_as_of"] == format_time(created)  # it answers at once, and asks for a recount
    h.drain()
    recounted = h.get(f"/v1/orgs/{org_id}/security", token=owner).body
    assert recounted["counts"] == NO_COUNTS | {"not_required": 5}
    assert recounted["counts_as_of"] == format_time(h.clock.now())

    require(h, org_id, owner)
    on = h.get(f"/v1/orgs/{org_id}/security", token=owner).body
    # The stored tally is by what decides a status, so the policy change needs no recount.
    assert on["counts"] == NO_COUNTS | {"compliant": 2, "pending": 2, "exempt": 1}

    # Past the deadline the same members count as locked.
    h.clock.advance(GRACE)
    owner = fresh_session(h, OWNER, secret)
    locked = h.get(f"/v1/orgs/{org_id}/security", token=owner).body
    assert locked["counts"] == NO_COUNTS | {"compliant": 2, "locked": 2, "exempt": 1}


def test_a_recount_is_asked_for_at_most_once_while_the_counts_are_recent(h):
    owner, _, org_id = owner_org(h)
    h.clock.advance(16 * 60)
    for _ in range(3):
        assert h.get(f"/v1/orgs/{org_id}/security", token=owner).status == 200
    assert h.waiting() == 1
    h.drain()
    h.clock.advance(10 * 60)
    h.get(f"/v1/orgs/{org_id}/security", token=owner)
    assert h.waiting() == 0  # counted 10 minutes ago: recent enough
    h.clock.advance(10 * 60)
    h.get(f"/v1/orgs/{org_id}/security", token=owner)
    assert h.waiting() == 1


# -- member status ---------------------------------------------------------------------------------


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
    assert policy["deadline"] == deadline
    rows = member_rows(h, org_id, owner)
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
    h.drain()
    for email in (MEMBER, "sso-admin@example.com"):
        [started_email] = notices(h, email)
        assert started_email["subject"] == "Acme requires two-factor authentication"
        assert deadline in started_email["body"]
    assert notices(h, "sso-member@example.com") == []
    assert [e["subject"] for e in notices(h, "enrolled@example.com")] == ["Two-factor authentication is on"]
    assert [e["subject"] for e in h.emails(OWNER)][:1] == ["Two-factor authentication is on"]

    # The member sees the same status and deadline.
    me = h.get("/v1/me/security", token=h.session(MEMBER)).body
    [org] = me["organizations"]
    assert (org["status"], org["deadline"], org["require_two_factor"]) == ("pending", deadline, True)


def test_setting_the_same_policy_again_keeps_the_deadline(h):
    owner, secret, org_id = owner_org(h)
    h.sign_up(MEMBER)
    add(h, org_id, owner, MEMBER)
    require(h, org_id, owner)
    deadline = member_rows(h, org_id, owner)[MEMBER]["deadline"]
    h.drain()
    h.clock.advance(5 * DAY)
    owner = fresh_session(h, OWNER, secret)
    again = require(h, org_id, owner)
    assert (again.status, again.body["deadline"]) == (200, deadline)
    assert member_rows(h, org_id, owner)[MEMBER]["deadline"] == deadline
    h.drain()
    assert len(notices(h, MEMBER)) == 1  # no second "enforcement started"


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
    assert notices(h, "sso@example.com") == []


def test_sso_admin_is_locked_after_the_deadline(h):
    owner, secret, org_id = owner_org(h)
    h.sign_up("sso-admin@example.com")
    add(h, org_id, owner, "sso-admin@example.com", role="admin", sso=True)
    require(h, org_id, owner)
    h.clock.advance(GRACE)
    owner = fresh_session(h, OWNER, secret)
    assert h.sign_in("sso-admin@example.com").body["status"] == "enrollment_required"
    assert member_rows(h, org_id, owner)["sso-admin@example.com"]["status"] == "locked"


# -- sign-in and sessions while enforcement runs ---------------------------------------------------


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


def test_a_session_issued_before_the_deadline_stops_working_at_it(h):
    owner, secret, org_id = owner_org(h)
    h.sign_up(MEMBER)
    h.sign_up("sso@example.com")
    add(h, org_id, owner, MEMBER)
    add(h, org_id, owner, "sso@example.com", sso=True)
    require(h, org_id, owner)
    deadline = h.clock.now() + GRACE
    h.clock.set(deadline - 60)
    session = h.session(MEMBER)
    others = [h.session("sso@example.com"), fresh_session(h, OWNER, secret)]
    assert h.get("/v1/me/security", token=session).status == 200
    h.clock.set(deadline)
    refused = h.get("/v1/me/security", token=session)
    assert (refused.status, error_code(refused)) == (401, "unauthorized")
    assert h.post("/v1/orgs", {"name": "Mine", "plan": "free"}, token=session).status == 401
    # Members who owe nothing keep theirs.
    assert [h.get("/v1/me/security", token=t).status for t in others] == [200, 200]


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


def test_turning_enforcement_off_clears_the_deadline_and_the_notices(h):
    owner, secret, org_id = owner_org(h)
    h.sign_up(MEMBER)
    add(h, org_id, owner, MEMBER)
    require(h, org_id, owner)
    h.drain()
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
        assert h.sweep() == {"notice_stages_queued": 0, "resets_queued": 0}
    assert len(h.emails()) == before
    reply = h.sign_in(MEMBER)
    assert reply.body["status"] == "signed_in"
    assert "two_factor_deadline" not in reply.body
    assert not any("due_pk" in item for item in h.table_items())


def test_turning_enforcement_on_again_gives_a_fresh_deadline_and_notices(h):
    owner, secret, org_id = owner_org(h)
    h.sign_up(MEMBER)
    add(h, org_id, owner, MEMBER)
    require(h, org_id, owner)
    h.drain()
    first_deadline = h.clock.now() + GRACE
    h.clock.set(first_deadline - 7 * DAY)
    assert h.sweep()["notices_sent"] == 1  # the 7-day reminder of the first round
    owner = fresh_session(h, OWNER, secret)

    require(h, org_id, owner, on=False)
    h.clock.advance(3600)
    require(h, org_id, owner)
    h.drain()
    second_deadline = h.clock.now() + GRACE
    row = member_rows(h, org_id, owner)[MEMBER]
    assert (row["status"], row["deadline"]) == ("pending", format_time(second_deadline))
    subjects = [e["subject"] for e in notices(h, MEMBER)]
    assert subjects == [
        "Acme requires two-factor authentication",
        "7 days left to turn on two-factor authentication",
        "Acme requires two-factor authentication",
    ]
    assert format_time(second_deadline) in notices(h, MEMBER)[-1]["body"]

    # The old deadline no longer locks the member out...
    h.clock.set(first_deadline + DAY)
    assert h.sweep().get("notices_sent", 0) == 0
    assert h.sign_in(MEMBER).body["two_factor_deadline"] == format_time(second_deadline)
    # ...and the new round gives its notices from the beginning.
    h.clock.set(second_deadline - 7 * DAY)
    assert h.sweep()["notices_sent"] == 1
    assert h.emails(MEMBER)[-1]["subject"] == "7 days left to turn on two-factor authentication"
    assert format_time(second_deadline) in h.emails(MEMBER)[-1]["body"]


# -- disabling 2FA while an organization requires it ----------------------------------------------


def test_disable_is_refused_while_required_and_allowed_after(h):
    owner, secret, org_id = owner_org(h)
    member, member_secret, _ = h.user_with_two_factor(MEMBER)
    add(h, org_id, owner, MEMBER, session=member)
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
    add(h, org_id, owner, "sso@example.com", sso=True, session=session)
    require(h, org_id, owner)
    reply = h.post("/v1/me/two-factor/disable", {"code": h.code(secret)}, token=session)
    assert reply.status == 200


def test_a_policy_change_that_loses_a_race_answers_with_the_winners_policy(h, monkeypatch):
    """Two admins turn enforcement on at once: one writes it; the other's condition on the
    old value fails, and it answers with the policy that now stands."""
    from devkit.races import WorstInterleaving

    owner, _, org_id = owner_org(h)
    admin, _, _ = h.user_with_two_factor("admin@example.com")
    add(h, org_id, owner, "admin@example.com", role="admin")
    race = WorstInterleaving(monkeypatch, 2, "set_enforcement")
    first = h.clock.now()
    replies = race.run(lambda: require(h, org_id, owner), lambda: require(h, org_id, admin))
    assert [r.status for r in replies] == [200, 200]
    assert replies[0].body == replies[1].body
    assert replies[1].body["enforced_at"] == format_time(first)
    enforcement_events = [
        i for i in h.table_items() if i["pk"]["S"] == f"AUDIT#{org_id}" and i["kind"]["S"] == "enforcement_started"
    ]
    assert len(enforcement_events) == 1
