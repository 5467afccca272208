"""Email addresses at the API: no control characters, no whitespace, at most 320 characters
(API.md, "Conventions"), at sign-up, sign-in and invitations; and error messages that never
echo what the client sent."""

import json

import pytest

from devkit.harness import PASSWORD

BAD = [
    "nul\x00@example.com",
    "bel\x07@example.com",
    "esc\x1b[2J@example.com",
    "del\x7f@example.com",
    "zero\u200bwidth@example.com",
    "tab\t@example.com",
    " lead@example.com",
    "trail@example.com ",
    "no\u00a0break@example.com",
    "a" * 64 + "@" + "b" * 252 + ".com",  # 321 characters
]
LONGEST = "a" * 64 + "@" + "b" * 251 + ".com"  # 320 characters


def expect_error(reply, status, code):
    assert reply.status == status, reply
    assert reply.body == {"error": {"code": code, "message": reply.body["error"]["message"]}}


def refused_quietly(reply, sent):
    expect_error(reply, 400, "invalid_request")
    assert reply.body["error"]["message"] in (
        "Field email must be an email address of at most 320 characters.",
        "Field email must be 0 to 320 characters.",  # too long to be read further
    )
    assert sent not in json.dumps(reply.body, ensure_ascii=False)


@pytest.mark.parametrize("email", BAD)
def test_sign_up_sign_in_and_invitations_refuse_bad_addresses(h, email):
    refused_quietly(h.post("/v1/users", {"email": email, "password": PASSWORD}), email)
    refused_quietly(h.sign_in(email), email)
    owner, _, _ = h.user_with_two_factor("owner@example.com")
    org_id = h.post("/v1/orgs", {"name": "Acme", "plan": "business"}, token=owner).body["org_id"]
    refused_quietly(h.invite(org_id, owner, email), email)
    assert not [item for item in h.table_items() if email.lower() in repr(item)]


def test_an_address_of_320_characters_works_everywhere(h):
    assert h.post("/v1/users", {"email": LONGEST, "password": PASSWORD}).status == 201
    assert h.sign_in(LONGEST).body["status"] == "signed_in"
    owner, _, _ = h.user_with_two_factor("owner@example.com")
    org_id = h.post("/v1/orgs", {"name": "Acme", "plan": "business"}, token=owner).body["org_id"]
    assert h.invite(org_id, owner, LONGEST).status == 201


@pytest.mark.parametrize(
    "name",
    ["extra", "\\ud800", "\\udfff tail", "x" * 5000, "<script>alert(1)</script>", "\\u0000\\u001b[2J"],
)
def test_an_unknown_field_is_refused_without_echoing_its_name(h, name):
    """The name is the client's text: of any length, even a lone surrogate that no log or JSON
    encoder could write. The message names only the fields the endpoint expects."""
    raw = '{"email": "a@example.com", "password": "12345678", "' + name + '": 1}'
    reply = h.post("/v1/users", raw=raw)
    expect_error(reply, 400, "invalid_request")
    assert reply.body["error"]["message"] == "Unknown field; expected email, password."


def test_an_endpoint_without_fields_refuses_any_without_echoing_them(h):
    h.sign_up("alice@example.com")
    token = h.session("alice@example.com")
    reply = h.post("/v1/me/two-factor/enrollment", raw='{"\\ud800": 1}', token=token)
    expect_error(reply, 400, "invalid_request")
    assert reply.body["error"]["message"] == "Unknown field; send none."
