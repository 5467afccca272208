"""API conventions, accounts and sessions (API.md "Conventions", "Accounts and sessions")."""

import json
import re

import pytest

from devkit.harness import PASSWORD

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
MAX_BODY = 16 * 1024


def expect_error(reply, status, code):
    """The one error shape: exactly {"error": {"code", "message"}}, a sentence, no stack trace."""
    assert reply.status == status, reply
    assert set(reply.body) == {"error"}, reply.body
    assert set(reply.body["error"]) == {"code", "message"}, reply.body
    assert reply.body["error"]["code"] == code, reply.body
    message = reply.body["error"]["message"]
    assert isinstance(message, str) and message.endswith("."), message
    assert "Traceback" not in message and "File " not in message
    if status in (429, 503):
        assert int(reply.headers["Retry-After"]) >= 1


def raw_post(h, path, body, headers):
    """A POST exactly as given: no default content type, no authorization."""
    response = h.client.http.post(path, headers=headers, body=body)
    return response.status_code, json.loads(response.body)


def time_after(h, seconds):
    from chalicelib.clock import format_time

    return format_time(h.clock.now() + seconds)


# -- conventions: bodies -----------------------------------------------------------------------


def bad_bodies(valid):
    """(description, raw body, content type, expected status, expected code) for one endpoint's
    valid body: every way a body can be wrong."""
    text = json.dumps(valid)
    cases = [
        ("malformed JSON", text[:-1], "application/json", 400),
        ("not JSON", "email=a&password=b", "application/json", 400),
        ("invalid UTF-8", b"\xff\xfe{}", "application/json", 400),
        ("array", json.dumps([valid]), "application/json", 400),
        ("string", json.dumps(text), "application/json", 400),
        ("number", "42", "application/json", 400),
        ("null", "null", "application/json", 400),
        ("empty body", "", "application/json", 400),
        ("unknown field", json.dumps({**valid, "admin": True}), "application/json", 400),
        ("no content type", text, None, 400),
        ("wrong content type", text, "text/plain", 400),
        ("form content type", text, "application/x-www-form-urlencoded", 400),
        ("oversized", text[:-1] + " " * MAX_BODY + "}", "application/json", 413),
    ]
    for name in valid:
        others = {k: v for k, v in valid.items() if k != name}
        cases.append((f"missing {name}", json.dumps(others), "application/json", 400))
        for wrong in (12345678, True, None, [valid[name]], {"value": valid[name]}):
            cases.append((f"{name} as {wrong!r}", json.dumps({**valid, name: wrong}), "application/json", 400))
    return cases


def check_bad_bodies(h, path, valid, token=None):
    for description, raw, content_type, status in bad_bodies(valid):
        headers = {"content-type": content_type} if content_type else {}
        if token:
            headers["authorization"] = f"Bearer {token}"
        got_status, body = raw_post(h, path, raw, headers)
        code = "payload_too_large" if status == 413 else "invalid_request"
        assert got_status == status, (description, got_status, body)
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, (description, body)
        assert body["error"]["code"] == code and body["error"]["message"], (description, body)


def test_sign_up_refuses_every_malformed_body(h):
    check_bad_bodies(h, "/v1/users", {"email": "a@example.com", "password": PASSWORD})
    assert h.table_items() == []  # nothing was created by any of them
    assert h.post("/v1/users", {"email": "a@example.com", "password": PASSWORD}).status == 201


def test_sign_in_refuses_every_malformed_body(h):
    h.sign_up("a@example.com")
    check_bad_bodies(h, "/v1/sessions", {"email": "a@example.com", "password": PASSWORD})
    assert h.sign_in("a@example.com").status == 200


def test_two_factor_endpoints_refuse_every_malformed_body_without_counting_it(h):
    token, secret, codes = h.user_with_two_factor("alice@example.com")
    h.sign_up("bob@example.com")
    bob = h.session("bob@example.com")
    assert h.post("/v1/me/two-factor/enrollment", token=bob).status == 201
    check_bad_bodies(h, "/v1/me/two-factor/enrollment/confirm", {"code": "123456"}, token=bob)
    check_bad_bodies(h, "/v1/me/two-factor/backup-codes", {"code": "123456"}, token=token)
    check_bad_bodies(h, "/v1/me/two-factor/disable", {"code": "123456"}, token=token)
    check_bad_bodies(h, "/v1/me/two-factor/disable", {"backup_code": codes[0]}, token=token)
    # Dozens of refusals, none of them a failed attempt: the right code still works at once.
    assert h.post("/v1/me/two-factor/backup-codes", {"code": h.code(secret)}, token=token).status == 200


def test_a_body_of_exactly_16_kib_is_read_and_one_byte_more_is_refused(h):
    body = json.dumps({"email": "a@example.com", "password": PASSWORD})
    exactly = body[:-1] + " " * (MAX_BODY - len(body)) + "}"
    assert len(exactly.encode()) == MAX_BODY
    assert h.post("/v1/users", raw=exactly).status == 201
    too_big = exactly[:-1] + " }"
    expect_error(h.post("/v1/sessions", raw=too_big), 413, "payload_too_large")


def test_an_oversized_body_is_refused_before_authentication_is_needed(h):
    # Multi-byte characters count as bytes, not characters.
    body = json.dumps({"email": "a@example.com", "password": "é" * 9000}, ensure_ascii=False)
    assert len(body) < MAX_BODY < len(body.encode())
    expect_error(h.post("/v1/users", raw=body.encode()), 413, "payload_too_large")


def test_content_type_with_charset_is_json(h):
    status, body = raw_post(
        h,
        "/v1/users",
        json.dumps({"email": "a@example.com", "password": PASSWORD}),
        {"content-type": "Application/JSON; charset=utf-8"},
    )
    assert status == 201, body


def test_error_messages_never_echo_the_submitted_values(h):
    secret_password = "hunter2-but-longer"
    for body in (
        {"email": "a@example.com", "password": secret_password, "extra": secret_password},
        {"email": secret_password, "password": secret_password},
        {"email": "a@example.com", "password": "short"},
    ):
        reply = h.post("/v1/users", body)
        expect_error(reply, 400, "invalid_request")
        assert secret_password not in json.dumps(reply.body)
        assert "short" not in json.dumps(reply.body)


def test_no_input_causes_a_500(h):
    token, _, _ = h.user_with_two_factor("alice@example.com")
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    strange = ["\\ud800", "\\udfff\\ud800", "a\\u0000b", "\\u202e", "\\ufeff", "\u00e9" * 300]
    for text in strange:
        for path, raw, auth in [
            ("/v1/users", f'{{"email": "a{text}@example.com", "password": "pass{text}word"}}', None),
            ("/v1/sessions", f'{{"email": "alice@example.com", "password": "{text}{PASSWORD}"}}', None),
            ("/v1/sessions", f'{{"email": "{text}", "password": "{text}"}}', None),
            ("/v1/sessions/verify", f'{{"code": "12345{text}"}}', challenge),
            ("/v1/sessions/verify", f'{{"backup_code": "ABCD2345-6789WXY{text}"}}', challenge),
            ("/v1/me/two-factor/disable", f'{{"backup_code": "{text}"}}', token),
            ("/v1/orgs", f'{{"name": "{text}", "plan": "free"}}', token),
            ("/v1/users", f'{{"{text}": 1}}', None),
        ]:
            reply = h.post(path, raw=raw, token=auth)
            assert reply.status < 500, (path, raw, reply)
            assert reply.status < 300 or set(reply.body["error"]) == {"code", "message"}, (path, raw, reply)
    for raw in ("[" * 8000 + "]" * 8000, '{"a":' * 2000 + "1" + "}" * 2000, '{"email": NaN, "password": 1e999}'):
        expect_error(h.post("/v1/users", raw=raw), 400, "invalid_request")
    expect_error(
        h.post("/v1/users", raw='{"email": "a\\ud800@example.com", "password": "12345678"}'), 400, "invalid_request"
    )
    # The account was not locked out by any of it.
    assert h.sign_in("alice@example.com").body["status"] == "two_factor_required"


# -- conventions: tokens -----------------------------------------------------------------------


def test_missing_malformed_and_unknown_tokens_are_unauthorized(h):
    user_id = h.sign_up("a@example.com")
    token = h.session("a@example.com")
    forged = f"{user_id}.{'A' * 43}"
    other_user = h.sign_up("b@example.com")
    for authorization in (
        None,
        "",
        "Bearer",
        "Bearer ",
        f"Basic {token}",
        token,
        f"Bearer {token}x",
        f"Bearer {token[:-1]}",
        f"Bearer {forged}",
        f"Bearer {token.replace(user_id, other_user)}",  # the same secret under another user id
        "Bearer not-a-token",
    ):
        headers = {"authorization": authorization} if authorization is not None else {}
        reply = h.request("GET", "/v1/me/security", headers=headers)
        expect_error(reply, 401, "unauthorized")
    # The scheme is case-insensitive, as RFC 7235 says.
    assert h.get("/v1/me/security", headers={"authorization": f"bearer {token}"}).status == 200


def test_challenge_token_works_only_for_verify(h):
    _, secret, _ = h.user_with_two_factor("a@example.com")
    challenge = h.sign_in("a@example.com").body["challenge_token"]
    for method, path, body in [
        ("GET", "/v1/me/security", None),
        ("POST", "/v1/me/two-factor/enrollment", None),
        ("POST", "/v1/me/two-factor/enrollment/confirm", {"code": h.code(secret)}),
        ("POST", "/v1/me/two-factor/backup-codes", {"code": h.code(secret)}),
        ("POST", "/v1/me/two-factor/disable", {"code": h.code(secret)}),
        ("DELETE", "/v1/sessions/current", None),
        ("DELETE", "/v1/me/two-factor/reset", None),
        ("POST", "/v1/orgs", {"name": "Acme", "plan": "business"}),
    ]:
        expect_error(h.request(method, path, body, token=challenge), 401, "unauthorized")
    # None of those used it up or counted a failure.
    assert h.post("/v1/sessions/verify", {"code": h.code(secret)}, token=challenge).status == 200


def test_session_token_is_not_a_challenge(h):
    token, secret, _ = h.user_with_two_factor("a@example.com")
    expect_error(h.post("/v1/sessions/verify", {"code": h.code(secret)}, token=token), 401, "unauthorized")


def test_expired_session_is_unauthorized(h):
    h.sign_up("a@example.com")
    token = h.session("a@example.com")
    h.clock.advance(12 * 3600 - 1)
    assert h.get("/v1/me/security", token=token).status == 200
    h.clock.advance(1)
    expect_error(h.get("/v1/me/security", token=token), 401, "unauthorized")


# -- sign-up -----------------------------------------------------------------------------------


def test_sign_up_returns_the_user_id_and_the_normalised_email(h):
    reply = h.post("/v1/users", {"email": "Alice@Example.COM", "password": PASSWORD})
    assert reply.status == 201
    assert set(reply.body) == {"user_id", "email"}
    assert UUID.fullmatch(reply.body["user_id"])
    assert reply.body["email"] == "alice@example.com"
    assert h.session("alice@example.com")


def test_sign_up_with_a_taken_email_in_any_case_is_a_conflict(h):
    h.sign_up("alice@example.com")
    expect_error(h.post("/v1/users", {"email": "ALICE@example.com", "password": PASSWORD}), 409, "email_taken")
    expect_error(h.post("/v1/users", {"email": "alice@example.com", "password": "another pw"}), 409, "email_taken")
    # The first account is untouched.
    assert h.sign_in("alice@example.com").status == 200
    expect_error(h.sign_in("alice@example.com", "another pw"), 401, "invalid_credentials")


@pytest.mark.parametrize(("length", "status"), [(0, 400), (7, 400), (8, 201), (1024, 201), (1025, 400)])
def test_password_is_8_to_1024_characters(h, length, status):
    reply = h.post("/v1/users", {"email": "a@example.com", "password": "p" * length})
    assert reply.status == status, reply
    if status == 201:
        assert h.sign_in("a@example.com", "p" * length).body["status"] == "signed_in"
    else:
        expect_error(reply, 400, "invalid_request")


@pytest.mark.parametrize("email", ["", "alice", "alice@example", "@example.com", "a b@example.com", "x" * 321])
def test_sign_up_refuses_what_is_not_an_email(h, email):
    expect_error(h.post("/v1/users", {"email": email, "password": PASSWORD}), 400, "invalid_request")


# -- the password step -------------------------------------------------------------------------


def test_sign_in_without_two_factor_gives_a_session(h):
    h.sign_up("alice@example.com")
    reply = h.sign_in("ALICE@example.com")
    assert reply.status == 200
    assert set(reply.body) == {"status", "session_token", "expires_at"}
    assert reply.body["status"] == "signed_in"
    assert reply.body["expires_at"] == time_after(h, 12 * 3600)
    me = h.get("/v1/me/security", token=reply.body["session_token"])
    assert me.status == 200 and me.body["email"] == "alice@example.com"


def test_wrong_password_and_unknown_email_get_the_same_answer(h):
    h.sign_up("alice@example.com")
    wrong_password = h.sign_in("alice@example.com", "wrong password")
    unknown_email = h.sign_in("nobody@example.com")
    expect_error(wrong_password, 401, "invalid_credentials")
    assert unknown_email.status == wrong_password.status
    assert unknown_email.body == wrong_password.body


def test_sign_in_with_two_factor_gives_a_challenge(h):
    h.user_with_two_factor("alice@example.com")
    reply = h.sign_in("alice@example.com")
    assert reply.status == 200
    assert set(reply.body) == {"status", "challenge_token", "methods", "expires_at"}
    assert reply.body["status"] == "two_factor_required"
    assert reply.body["methods"] == ["totp", "backup_code"]
    assert reply.body["expires_at"] == time_after(h, 5 * 60)
    expect_error(h.sign_in("alice@example.com", "wrong password"), 401, "invalid_credentials")


# -- the code step -----------------------------------------------------------------------------


def test_verify_with_a_code_signs_in_and_consumes_the_challenge(h):
    _, secret, _ = h.user_with_two_factor("alice@example.com")
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    code = h.code(secret)
    reply = h.post("/v1/sessions/verify", {"code": f"{code[:3]} {code[3:]}"}, token=challenge)
    assert reply.status == 200
    assert set(reply.body) == {"status", "session_token", "expires_at", "backup_codes_remaining"}
    assert reply.body["status"] == "signed_in"
    assert reply.body["backup_codes_remaining"] == 8
    assert reply.body["expires_at"] == time_after(h, 12 * 3600)
    assert h.get("/v1/me/security", token=reply.body["session_token"]).status == 200
    # Used: the challenge works no more, even with the next code.
    h.clock.advance(30)
    expect_error(h.post("/v1/sessions/verify", {"code": h.code(secret)}, token=challenge), 401, "unauthorized")


def test_verify_with_a_wrong_code_keeps_the_challenge(h):
    _, secret, _ = h.user_with_two_factor("alice@example.com")
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    wrong = f"{(int(h.code(secret)) + 1) % 1_000_000:06d}"
    expect_error(h.post("/v1/sessions/verify", {"code": wrong}, token=challenge), 401, "invalid_code")
    assert h.post("/v1/sessions/verify", {"code": h.code(secret)}, token=challenge).status == 200


@pytest.mark.parametrize(("offset", "accepted"), [(-60, False), (-30, True), (30, True), (60, False)])
def test_verify_accepts_one_step_of_drift(h, offset, accepted):
    _, secret, _ = h.user_with_two_factor("alice@example.com")
    h.clock.advance(30)  # the step before is then not the one that confirmed enrollment
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    reply = h.post("/v1/sessions/verify", {"code": h.code(secret, offset)}, token=challenge)
    if accepted:
        assert reply.status == 200
    else:
        expect_error(reply, 401, "invalid_code")


def test_a_code_works_once(h):
    _, secret, _ = h.user_with_two_factor("alice@example.com")
    assert h.sign_in_with_code("alice@example.com", secret).status == 200
    expect_error(h.sign_in_with_code("alice@example.com", secret), 401, "invalid_code")
    # The previous step is older than the one accepted, so it is refused too.
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    expect_error(h.post("/v1/sessions/verify", {"code": h.code(secret, -30)}, token=challenge), 401, "invalid_code")
    h.clock.advance(30)
    assert h.post("/v1/sessions/verify", {"code": h.code(secret)}, token=challenge).status == 200


def test_verify_with_a_backup_code_in_any_form(h):
    _, _, codes = h.user_with_two_factor("alice@example.com")
    for typed, remaining in (
        (codes[0], 7),
        (codes[1].lower(), 6),
        (codes[2].replace("-", ""), 5),
        (" ".join(codes[3].lower().replace("-", "")), 4),
    ):
        challenge = h.sign_in("alice@example.com").body["challenge_token"]
        reply = h.post("/v1/sessions/verify", {"backup_code": typed}, token=challenge)
        assert reply.status == 200, (typed, reply)
        assert reply.body["backup_codes_remaining"] == remaining
        assert h.get("/v1/me/security", token=reply.body["session_token"]).status == 200


def test_a_backup_code_works_once(h):
    _, _, codes = h.user_with_two_factor("alice@example.com")
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    assert h.post("/v1/sessions/verify", {"backup_code": codes[0]}, token=challenge).status == 200
    for typed in (codes[0], codes[0].lower()):
        challenge = h.sign_in("alice@example.com").body["challenge_token"]
        expect_error(h.post("/v1/sessions/verify", {"backup_code": typed}, token=challenge), 401, "invalid_code")
    expect_error(
        h.post("/v1/sessions/verify", {"backup_code": "ZZZZZZZZ-ZZZZZZZZ"}, token=challenge), 401, "invalid_code"
    )


def test_verify_refuses_malformed_second_factors_without_counting_them(h):
    _, secret, _ = h.user_with_two_factor("alice@example.com")
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    code = h.code(secret)
    for body in (
        {},
        {"code": code, "backup_code": "ABCD2345-6789WXYZ"},
        {"code": "12345"},
        {"code": "1234567"},
        {"code": "12345\n6"},
        {"code": "\uff11\uff12\uff13\uff14\uff15\uff16"},
        {"code": 123456},
        {"code": None},
        {"backup_code": "ABCD2345"},
        {"backup_code": "ABCD2345-6789WXYU"},
        {"backup_code": 12345678},
        {"code": code, "extra": 1},
    ):
        expect_error(h.post("/v1/sessions/verify", body, token=challenge), 400, "invalid_request")
    check_bad_bodies(h, "/v1/sessions/verify", {"code": code}, token=challenge)
    # Far more than five refusals, and none counted: the right code still works.
    assert h.post("/v1/sessions/verify", {"code": code}, token=challenge).status == 200


def test_expired_challenge_is_unauthorized(h):
    _, secret, _ = h.user_with_two_factor("alice@example.com")
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    h.clock.advance(5 * 60)
    expect_error(h.post("/v1/sessions/verify", {"code": h.code(secret)}, token=challenge), 401, "unauthorized")


def test_verify_after_two_factor_was_turned_off_meanwhile_is_unauthorized(h):
    token, secret, _ = h.user_with_two_factor("alice@example.com")
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    assert h.post("/v1/me/two-factor/disable", {"code": h.code(secret)}, token=token).status == 200
    h.clock.advance(30)
    expect_error(h.post("/v1/sessions/verify", {"code": h.code(secret)}, token=challenge), 401, "unauthorized")


# -- sign-out ----------------------------------------------------------------------------------


def test_sign_out_ends_only_that_session_at_once(h):
    h.sign_up("alice@example.com")
    first = h.session("alice@example.com")
    second = h.session("alice@example.com")
    reply = h.delete("/v1/sessions/current", token=first)
    assert reply.status == 204
    assert reply.body is None
    expect_error(h.get("/v1/me/security", token=first), 401, "unauthorized")
    expect_error(h.delete("/v1/sessions/current", token=first), 401, "unauthorized")
    assert h.get("/v1/me/security", token=second).status == 200


def test_sign_out_needs_a_session(h):
    expect_error(h.delete("/v1/sessions/current"), 401, "unauthorized")
    h.user_with_two_factor("alice@example.com")
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    expect_error(h.delete("/v1/sessions/current", token=challenge), 401, "unauthorized")
