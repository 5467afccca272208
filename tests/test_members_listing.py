"""`GET /v1/orgs/{org_id}/members` (API.md "Membership"): pages of at most `limit` members in a
stable order, an opaque cursor that only continues this listing, a status filter, and a
cost per page that does not grow with the organization."""

from __future__ import annotations

import base64
import json

import pytest

from chalicelib import organizations
from chalicelib.enforcement import DAY
from devkit import population
from devkit.counting import RequestCounter
from devkit.harness import Harness

OWNER = "owner@example.com"


def org_with_members(h: Harness, count: int, **kwargs) -> tuple[str, str, list[population.Member]]:
    """(owner session, org id, members) of an Enterprise organization with `count` bulk members."""
    owner, _, _ = h.user_with_two_factor(OWNER)
    org_id = h.post("/v1/orgs", {"name": "Acme", "plan": "enterprise"}, token=owner).body["org_id"]
    return owner, org_id, population.add_members(org_id, count, h.clock.now(), **kwargs)


def pages(h: Harness, org_id: str, token: str, **params) -> list[dict]:
    """Every page of the listing, following next_cursor to the end."""
    found = []
    cursor = None
    while True:
        query = "&".join(f"{k}={v}" for k, v in {**params, **({"cursor": cursor} if cursor else {})}.items())
        reply = h.get(f"/v1/orgs/{org_id}/members?{query}", token=token)
        assert reply.status == 200, reply
        assert len(reply.body["members"]) <= params.get("limit", 50)
        found.append(reply.body)
        cursor = reply.body["next_cursor"]
        if cursor is None:
            return found


def emails(found: list[dict]) -> list[str]:
    return [row["email"] for page in found for row in page["members"]]


def test_paging_through_every_member_exactly_once(h):
    owner, org_id, members = org_with_members(h, 120)
    found = pages(h, org_id, owner, limit=25)
    assert [len(page["members"]) for page in found] == [25, 25, 25, 25, 21]
    listed = emails(found)
    assert sorted(listed) == sorted([m.email for m in members] + [OWNER])
    assert len(listed) == len(set(listed))
    # The default page holds 50.
    assert len(h.get(f"/v1/orgs/{org_id}/members", token=owner).body["members"]) == 50


def test_a_full_last_page_has_no_cursor(h):
    owner, org_id, _ = org_with_members(h, 9)
    found = pages(h, org_id, owner, limit=5)
    assert [len(page["members"]) for page in found] == [5, 5]


def test_paging_with_a_status_filter(h):
    owner, org_id, members = org_with_members(h, 250, two_factor_every=3, sso_every=5)
    h.put(f"/v1/orgs/{org_id}/security", {"require_two_factor": True}, token=owner)
    expected = {
        "compliant": {m.email for m in members if m.two_factor} | {OWNER},
        "exempt": {m.email for m in members if m.sso},
        "pending": {m.email for m in members if not m.two_factor and not m.sso},
    }
    for status, wanted in expected.items():
        found = pages(h, org_id, owner, limit=20, status=status)
        listed = emails(found)
        assert sorted(listed) == sorted(wanted), status
        assert all(row["status"] == status for page in found for row in page["members"])
    # Before the deadline nobody is locked, and nobody is not_required while it is on.
    for status in ("locked", "not_required"):
        reply = h.get(f"/v1/orgs/{org_id}/members?status={status}", token=owner)
        assert reply.body == {"members": [], "next_cursor": None}
    # Past the deadline the same members are locked, and nobody is pending.
    h.clock.advance(30 * DAY)
    owner = h.session_with_code(OWNER)
    locked = pages(h, org_id, owner, status="locked")
    assert sorted(emails(locked)) == sorted(expected["pending"])
    assert h.get(f"/v1/orgs/{org_id}/members?status=pending", token=owner).body["members"] == []


def test_a_filter_reads_a_bounded_number_of_members_per_page(h, monkeypatch):
    """A rare status in a large organization: each request reads at most FILTER_READ_LIMIT
    members, answering a short (even empty) page with a cursor to go on."""
    monkeypatch.setattr(organizations, "FILTER_READ_LIMIT", 100)
    owner, org_id, members = org_with_members(h, 350, two_factor_every=300)
    h.put(f"/v1/orgs/{org_id}/security", {"require_two_factor": True}, token=owner)
    found = pages(h, org_id, owner, status="compliant", limit=10)
    assert len(found) == 4  # 351 members read 100 at a time
    assert sorted(emails(found)) == sorted([OWNER] + [m.email for m in members if m.two_factor])


def test_paging_while_members_join_and_leave(h):
    """Members present from start to end are listed exactly once; the listing never repeats."""
    owner, org_id, members = org_with_members(h, 60)
    first = h.get(f"/v1/orgs/{org_id}/members?limit=20", token=owner).body
    # Between pages: some members leave, others join (at both ends of the order).
    leaving = [m for m in members[30:40]]
    population.remove_members(org_id, [m.user_id for m in leaving])
    joined = population.add_members(org_id, 5, h.clock.now(), prefix="late")
    listed = [row["email"] for row in first["members"]]
    cursor = first["next_cursor"]
    while cursor:
        page = h.get(f"/v1/orgs/{org_id}/members?limit=20&cursor={cursor}", token=owner).body
        listed += [row["email"] for row in page["members"]]
        cursor = page["next_cursor"]
    assert len(listed) == len(set(listed))
    stayed = {m.email for m in members} - {m.email for m in leaving} | {OWNER}
    assert stayed <= set(listed)
    assert not {m.email for m in leaving} & set(listed[20:])
    assert set(listed) <= stayed | {m.email for m in leaving} | {m.email for m in joined}


def test_bad_parameters_and_cursors_are_refused(h):
    owner, org_id, _ = org_with_members(h, 3)
    other_owner, other_secret, _ = h.user_with_two_factor("other@example.com")
    other = h.post("/v1/orgs", {"name": "Other", "plan": "business"}, token=other_owner).body["org_id"]
    population.add_members(other, 3, h.clock.now())
    foreign = h.get(f"/v1/orgs/{other}/members?limit=1", token=other_owner).body["next_cursor"]
    mine = h.get(f"/v1/orgs/{org_id}/members?limit=1", token=owner).body["next_cursor"]
    decoded = json.loads(base64.urlsafe_b64decode(mine + "=" * (-len(mine) % 4)))
    forged = base64.urlsafe_b64encode(json.dumps({**decoded, "org": other}).encode()).decode()
    for query in (
        "limit=0",
        "limit=101",
        "limit=ten",
        "limit=-1",
        "limit=1&limit=2",
        "status=active",
        "cursor=not-base64!",
        "cursor=" + base64.urlsafe_b64encode(b"[1, 2]").decode(),
        "cursor=" + base64.urlsafe_b64encode(b'{"org": 1}').decode(),
        f"cursor={foreign}",  # another organization's cursor
        f"cursor={forged}",
        f"cursor={mine}&status=pending",  # a cursor of the unfiltered listing
        "sort=email",
    ):
        reply = h.get(f"/v1/orgs/{org_id}/members?{query}", token=owner)
        assert (reply.status, reply.body["error"]["code"]) == (400, "invalid_request"), query
        assert "1, 2" not in reply.body["error"]["message"]
    del other_secret


@pytest.mark.parametrize("size", [100, 2000])
def test_a_page_costs_the_same_whatever_the_size(h, size):
    owner, org_id, _ = org_with_members(h, size)
    counter = RequestCounter()
    with counter.measure() as calls:
        reply = h.get(f"/v1/orgs/{org_id}/members?limit=50", token=owner)
    assert len(reply.body["members"]) == 50
    # The caller's token, the organization, the caller's membership, a page, the page's 2FA states.
    assert calls["dynamodb"] == 5
