"""DESIGN.md's invariant under races (claim B12): no member of an organization that requires
2FA has 2FA off, is not exempt, and has no deadline. Disabling 2FA and joining condition on
the policy and on each other inside their transactions; each race is forced in both orders
(`devkit.races`: both requests read before either writes)."""

from __future__ import annotations

import pytest

from devkit.harness import Harness
from devkit.races import WorstInterleaving

OWNER = "owner@example.com"
MEMBER = "member@example.com"
DISABLE = "/v1/me/two-factor/disable"


def org(h: Harness) -> tuple[str, str]:
    owner, _, _ = h.user_with_two_factor(OWNER)
    org_id = h.post("/v1/orgs", {"name": "Acme", "plan": "business"}, token=owner).body["org_id"]
    return owner, org_id


def row(h: Harness, org_id: str, owner: str, email: str) -> dict | None:
    members = h.get(f"/v1/orgs/{org_id}/members?limit=100", token=owner).body["members"]
    return next((m for m in members if m["email"] == email), None)


def assert_invariant(h: Harness, org_id: str, owner: str) -> None:
    """Every member the organization's enforcement applies to either has 2FA or a deadline."""
    policy = h.get(f"/v1/orgs/{org_id}/security", token=owner).body
    for member in h.get(f"/v1/orgs/{org_id}/members?limit=100", token=owner).body["members"]:
        if policy["require_two_factor"] and member["status"] != "exempt":
            assert member["two_factor_enabled"] or member["deadline"] == policy["deadline"], member
            assert member["status"] in {"compliant", "pending", "locked"}


@pytest.mark.parametrize("disable_first", [True, False])
def test_disabling_against_turning_enforcement_on(h, monkeypatch, disable_first):
    owner, org_id = org(h)
    member, secret, _ = h.user_with_two_factor(MEMBER)
    assert h.join(org_id, owner, MEMBER, session=member).status == 200
    disable = lambda: h.post(DISABLE, {"code": h.code(secret)}, token=member)  # noqa: E731
    require = lambda: h.put(f"/v1/orgs/{org_id}/security", {"require_two_factor": True}, token=owner)  # noqa: E731

    race = WorstInterleaving(monkeypatch, 2, "deactivate_two_factor", "set_enforcement")
    if disable_first:
        disabled, required = race.run(disable, require)
        assert (disabled.status, required.status) == (200, 200)
        # Off before the policy: the member owes 2FA by the organization's deadline.
        assert row(h, org_id, owner, MEMBER)["status"] == "pending"
        assert row(h, org_id, owner, MEMBER)["deadline"] == required.body["deadline"]
    else:
        required, disabled = race.run(require, disable)
        assert required.status == 200
        assert (disabled.status, disabled.body["error"]["code"]) == (409, "org_requires_two_factor")
        assert row(h, org_id, owner, MEMBER)["status"] == "compliant"
    assert_invariant(h, org_id, owner)


@pytest.mark.parametrize("join_first", [True, False])
def test_joining_against_disabling(h, monkeypatch, join_first):
    """The organization requires 2FA; a user with 2FA on accepts an invitation while turning it off."""
    owner, org_id = org(h)
    assert h.put(f"/v1/orgs/{org_id}/security", {"require_two_factor": True}, token=owner).status == 200
    member, secret, _ = h.user_with_two_factor(MEMBER)
    join = lambda: h.join(org_id, owner, MEMBER, session=member)  # noqa: E731
    disable = lambda: h.post(DISABLE, {"code": h.code(secret)}, token=member)  # noqa: E731

    race = WorstInterleaving(monkeypatch, 2, "accept", "deactivate_two_factor")
    if join_first:
        joined, disabled = race.run(join, disable)
        assert joined.status == 200
        # The disable read no membership, but its write finds the memberships moved, decides
        # again, and finds the organization requiring 2FA.
        assert (disabled.status, disabled.body["error"]["code"]) == (409, "org_requires_two_factor")
        assert row(h, org_id, owner, MEMBER)["status"] == "compliant"
    else:
        disabled, joined = race.run(disable, join)
        assert disabled.status == 200
        assert (joined.status, joined.body["error"]["code"]) == (409, "two_factor_required")
        assert row(h, org_id, owner, MEMBER) is None
    assert_invariant(h, org_id, owner)


@pytest.mark.parametrize("join_first", [True, False])
def test_joining_without_two_factor_against_turning_enforcement_on(h, monkeypatch, join_first):
    owner, org_id = org(h)
    h.sign_up(MEMBER)
    join = lambda: h.join(org_id, owner, MEMBER)  # noqa: E731
    require = lambda: h.put(f"/v1/orgs/{org_id}/security", {"require_two_factor": True}, token=owner)  # noqa: E731

    race = WorstInterleaving(monkeypatch, 2, "accept", "set_enforcement")
    if join_first:
        joined, required = race.run(join, require)
        assert (joined.status, required.status) == (200, 200)
        # A member before the policy: the organization's deadline applies to them.
        assert row(h, org_id, owner, MEMBER)["deadline"] == required.body["deadline"]
    else:
        required, joined = race.run(require, join)
        assert required.status == 200
        assert (joined.status, joined.body["error"]["code"]) == (409, "two_factor_required")
        assert row(h, org_id, owner, MEMBER) is None
    assert_invariant(h, org_id, owner)
