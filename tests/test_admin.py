"""The operator command that grants the support role (`python -m chalicelib.admin`), run
in-process against the harness's moto table. No API can grant the role."""

from __future__ import annotations

import pytest

from chalicelib import admin

SUPPORT = "support@example.com"
TARGET = "target@example.com"
RESET = {"verification_reference": "ticket 4711, ID checked on video call", "reason": "lost phone and codes"}


def support_flags(h) -> dict[str, bool]:
    return {
        item["email"]["S"]: item.get("support", {}).get("BOOL", False)
        for item in h.table_items()
        if item["sk"]["S"] == "PROFILE"
    }


def audit_kinds(h, user_id: str) -> list[str]:
    return [item["kind"]["S"] for item in h.table_items() if item["pk"]["S"] == f"AUDIT#{user_id}"]


def test_grant_support_gives_the_role_that_the_api_checks(h):
    support_id = h.sign_up(SUPPORT)
    support = h.session(SUPPORT)
    h.user_with_two_factor(TARGET)
    h.sign_up("other@example.com")
    target_id = next(i["user_id"]["S"] for i in h.table_items() if i["pk"]["S"] == f"EMAIL#{TARGET}")
    path = f"/v1/support/users/{target_id}/two-factor-reset"

    before = h.post(path, RESET, token=support)
    assert (before.status, before.body["error"]["code"]) == (403, "forbidden")

    assert admin.grant_support("Support@Example.COM") == support_id
    assert support_flags(h) == {SUPPORT: True, TARGET: False, "other@example.com": False}
    assert audit_kinds(h, support_id) == ["support_role_granted"]
    [event] = [i for i in h.table_items() if i["pk"]["S"] == f"AUDIT#{support_id}"]
    assert event["actor"]["S"] == "operator"

    # The same session now may request a reset: the role is read on every request.
    after = h.post(path, RESET, token=support)
    assert after.status == 202


def test_grant_support_is_idempotent(h):
    h.sign_up(SUPPORT)
    first = admin.grant_support(SUPPORT)
    assert admin.grant_support(SUPPORT) == first
    assert support_flags(h) == {SUPPORT: True}


def test_grant_support_refuses_an_unknown_email(h):
    h.sign_up(SUPPORT)
    with pytest.raises(LookupError, match=r"nobody@example\.com"):
        admin.grant_support("nobody@example.com")
    assert support_flags(h) == {SUPPORT: False}


def test_command_line(h, capsys):
    user_id = h.sign_up(SUPPORT)
    assert admin.main(["grant-support", SUPPORT]) == 0
    out, err = capsys.readouterr()
    assert out == f"granted the support role to {SUPPORT} ({user_id})\n"
    assert err == ""
    assert support_flags(h) == {SUPPORT: True}

    assert admin.main(["grant-support", "nobody@example.com"]) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", "error: no user has the email nobody@example.com\n")

    assert admin.main(["grant-support", "not an email"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ")

    with pytest.raises(SystemExit) as exit_info:
        admin.main([])
    assert exit_info.value.code == 2
    capsys.readouterr()


def test_no_api_grants_the_support_role(h):
    refused = h.post("/v1/users", {"email": SUPPORT, "password": "long enough password", "support": True})
    assert (refused.status, refused.body["error"]["code"]) == (400, "invalid_request")
    h.sign_up(SUPPORT)
    token = h.session(SUPPORT)
    # The owner of an organization cannot grant it either: roles there are owner, admin, member.
    org_id = h.post("/v1/orgs", {"name": "Acme", "plan": "business"}, token=token).body["org_id"]
    target_id = h.sign_up(TARGET)
    assert h.join(org_id, token, TARGET).status == 200
    for role in ("support", "owner"):
        invited = h.post(f"/v1/orgs/{org_id}/invitations", {"email": TARGET, "role": role}, token=token)
        assert (invited.status, invited.body["error"]["code"]) == (400, "invalid_request")
    for body in ({"role": "support"}, {"support": True}):
        changed = h.put(f"/v1/orgs/{org_id}/members/{target_id}", body, token=token)
        assert (changed.status, changed.body["error"]["code"]) == (400, "invalid_request")
    assert support_flags(h) == {SUPPORT: False, TARGET: False}


def test_command_line_without_aws_configuration_says_so(monkeypatch, capsys):
    from botocore.exceptions import NoRegionError

    def no_region(email: str) -> str:
        raise NoRegionError()

    monkeypatch.setattr(admin, "grant_support", no_region)
    assert admin.main(["grant-support", SUPPORT]) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", "error: AWS is not configured: You must specify a region.\n")
