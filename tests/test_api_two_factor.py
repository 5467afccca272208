"""Two-factor authentication of the signed-in user (API.md "Two-factor authentication"),
throttling, enrollment tokens and the emails each change sends."""

import base64
import json
import re

from chalicelib.clock import format_time
from devkit.harness import PASSWORD

ENROLL = "/v1/me/two-factor/enrollment"
CONFIRM = "/v1/me/two-factor/enrollment/confirm"
REGENERATE = "/v1/me/two-factor/backup-codes"
DISABLE = "/v1/me/two-factor/disable"
VERIFY = "/v1/sessions/verify"
SECURITY = "/v1/me/security"
BACKUP_CODE = re.compile(r"[0-9A-HJKMNP-TV-Z]{8}-[0-9A-HJKMNP-TV-Z]{8}")


def expect_error(reply, status, code):
    assert reply.status == status, reply
    assert reply.body == {"error": {"code": code, "message": reply.body["error"]["message"]}}, reply.body
    assert isinstance(reply.body["error"]["message"], str) and reply.body["error"]["message"]
    if status in (429, 503):
        assert int(reply.headers["Retry-After"]) >= 1


def wrong(code):
    return f"{(int(code) + 500_000) % 1_000_000:06d}"


def emails(h, to, subject):
    return [e for e in h.emails(to) if e["subject"] == subject]


def user_items(h, user_id):
    return {item["sk"]["S"]: item for item in h.table_items() if item["pk"]["S"] == f"USER#{user_id}"}


def organization_requiring_two_factor(h, owner="owner@example.com", members=()):
    """(owner session, org id) of a Business organization, with `members` (who signed up
    already) in it, that requires 2FA."""
    owner_token, _, _ = h.user_with_two_factor(owner)
    org_id = h.post("/v1/orgs", {"name": "Acme", "plan": "business"}, token=owner_token).body["org_id"]
    for email in members:
        assert h.join(org_id, owner_token, email).status == 200
    reply = h.put(f"/v1/orgs/{org_id}/security", {"require_two_factor": True}, token=owner_token)
    assert reply.status == 200, reply
    return owner_token, org_id


def enrollment_token(h, email="member@example.com"):
    """A member whose grace period under an organization's enforcement is over, so the
    password step yields only an enrollment token. Returns (enrollment token, org id,
    sign-in body)."""
    h.sign_up(email)
    _, org_id = organization_requiring_two_factor(h, members=[email])
    h.clock.advance(30 * 86400)
    reply = h.sign_in(email)
    assert reply.status == 200 and reply.body["status"] == "enrollment_required", reply
    return reply.body["enrollment_token"], org_id, reply.body


# -- GET /v1/me/security -----------------------------------------------------------------------


def test_security_overview_without_two_factor(h):
    user_id = h.sign_up("alice@example.com")
    reply = h.get(SECURITY, token=h.session("alice@example.com"))
    assert reply.status == 200
    assert reply.body == {
        "user_id": user_id,
        "email": "alice@example.com",
        "two_factor": {"enabled": False, "enabled_at": None, "backup_codes_remaining": 0},
        "organizations": [],
        "pending_reset": None,
    }


def test_security_overview_with_two_factor_never_shows_the_secret_or_codes(h):
    h.sign_up("alice@example.com")
    token = h.session("alice@example.com")
    enrolled_at = format_time(h.clock.now())
    secret, codes = h.enroll(token)
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    assert h.post(VERIFY, {"backup_code": codes[0]}, token=challenge).status == 200
    reply = h.get(SECURITY, token=token)
    assert reply.body["two_factor"] == {"enabled": True, "enabled_at": enrolled_at, "backup_codes_remaining": 7}
    text = json.dumps(reply.body)
    assert secret not in text
    for code in codes:
        assert code not in text and code.replace("-", "") not in text


def test_security_overview_lists_organizations_with_status_and_deadline(h):
    owner_token, org_id = organization_requiring_two_factor(h)
    reply = h.get(SECURITY, token=owner_token)
    assert reply.body["organizations"] == [
        {
            "org_id": org_id,
            "name": "Acme",
            "role": "owner",
            "require_two_factor": True,
            "status": "compliant",
            "deadline": None,
        }
    ]


def test_a_pending_enrollment_is_not_enabled(h):
    h.sign_up("alice@example.com")
    token = h.session("alice@example.com")
    assert h.post(ENROLL, token=token).status == 201
    assert h.get(SECURITY, token=token).body["two_factor"]["enabled"] is False
    assert h.sign_in("alice@example.com").body["status"] == "signed_in"


# -- POST /v1/me/two-factor/enrollment ---------------------------------------------------------


def test_enrollment_shows_secret_uri_and_qr_code(h):
    h.sign_up("alice+2fa@example.com")
    token = h.session("alice+2fa@example.com")
    reply = h.post(ENROLL, token=token)
    assert reply.status == 201
    assert set(reply.body) == {"secret", "otpauth_uri", "qr_svg", "expires_at"}
    secret = reply.body["secret"]
    assert re.fullmatch(r"[A-Z2-7]+", secret) and "=" not in secret
    assert len(base64.b32decode(secret + "=" * (-len(secret) % 8))) * 8 >= 160
    assert reply.body["otpauth_uri"] == (
        f"otpauth://totp/AegisRunner:alice%2B2fa%40example.com?secret={secret}&issuer=AegisRunner"
    )
    assert reply.body["qr_svg"].lstrip().startswith(("<?xml", "<svg")) and "</svg>" in reply.body["qr_svg"]
    assert reply.body["expires_at"] == format_time(h.clock.now() + 15 * 60)
    # Stored only encrypted.
    assert secret not in repr(h.table_items())


def test_enrollment_again_replaces_the_pending_secret(h):
    h.sign_up("alice@example.com")
    token = h.session("alice@example.com")
    first = h.post(ENROLL, token=token).body["secret"]
    second = h.post(ENROLL, token=token).body["secret"]
    assert first != second
    expect_error(h.post(CONFIRM, {"code": h.code(first)}, token=token), 401, "invalid_code")
    assert h.post(CONFIRM, {"code": h.code(second)}, token=token).status == 200


def test_enrollment_when_already_enabled_is_a_conflict(h):
    token, secret, codes = h.user_with_two_factor("alice@example.com")
    expect_error(h.post(ENROLL, token=token), 409, "already_enabled")
    # The active secret and codes are untouched.
    assert h.sign_in_with_code("alice@example.com", secret).status == 200
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    assert h.post(VERIFY, {"backup_code": codes[0]}, token=challenge).status == 200


def test_enrollment_takes_no_body_fields(h):
    h.sign_up("alice@example.com")
    token = h.session("alice@example.com")
    expect_error(h.post(ENROLL, {"secret": "AAAA"}, token=token), 400, "invalid_request")
    expect_error(h.post(ENROLL, token=token, raw="[]"), 400, "invalid_request")
    expect_error(h.post(ENROLL, token=token, raw="{"), 400, "invalid_request")
    assert h.post(ENROLL, {}, token=token).status == 201


def test_enrollment_needs_a_token(h):
    expect_error(h.post(ENROLL), 401, "unauthorized")
    expect_error(h.post(CONFIRM, {"code": "123456"}), 401, "unauthorized")
    expect_error(h.post(REGENERATE, {"code": "123456"}), 401, "unauthorized")
    expect_error(h.post(DISABLE, {"code": "123456"}), 401, "unauthorized")
    expect_error(h.get(SECURITY), 401, "unauthorized")


# -- POST /v1/me/two-factor/enrollment/confirm -------------------------------------------------


def test_confirm_turns_two_factor_on_with_eight_backup_codes(h):
    user_id = h.sign_up("alice@example.com")
    token = h.session("alice@example.com")
    secret = h.post(ENROLL, token=token).body["secret"]
    reply = h.post(CONFIRM, {"code": h.code(secret)}, token=token)
    assert reply.status == 200
    assert set(reply.body) == {"enabled", "backup_codes"}
    assert reply.body["enabled"] is True
    codes = reply.body["backup_codes"]
    assert len(codes) == 8 and len(set(codes)) == 8
    assert all(BACKUP_CODE.fullmatch(code) for code in codes)
    assert h.get(SECURITY, token=token).body["two_factor"]["backup_codes_remaining"] == 8
    items = user_items(h, user_id)
    assert items["TOTP"]["status"]["S"] == "active"
    assert len(items["BACKUP"]["hashes"]["SS"]) == 8
    assert [e["subject"] for e in h.emails("alice@example.com")] == ["Two-factor authentication is on"]


def test_the_confirming_code_cannot_sign_in(h):
    h.sign_up("alice@example.com")
    token = h.session("alice@example.com")
    secret = h.post(ENROLL, token=token).body["secret"]
    code = h.code(secret)
    assert h.post(CONFIRM, {"code": code}, token=token).status == 200
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    expect_error(h.post(VERIFY, {"code": code}, token=challenge), 401, "invalid_code")
    expect_error(h.post(VERIFY, {"code": h.code(secret, -30)}, token=challenge), 401, "invalid_code")
    assert h.post(VERIFY, {"code": h.code(secret, 30)}, token=challenge).status == 200


def test_confirm_revokes_other_sessions_and_keeps_the_current_one(h):
    h.sign_up("alice@example.com")
    current = h.session("alice@example.com")
    other = h.session("alice@example.com")
    h.enroll(current)
    assert h.get(SECURITY, token=current).status == 200
    expect_error(h.get(SECURITY, token=other), 401, "unauthorized")


def test_confirm_with_a_wrong_code(h):
    h.sign_up("alice@example.com")
    token = h.session("alice@example.com")
    secret = h.post(ENROLL, token=token).body["secret"]
    for code in (wrong(h.code(secret)), h.code(secret, -60), h.code(secret, 60)):
        expect_error(h.post(CONFIRM, {"code": code}, token=token), 401, "invalid_code")
    assert h.get(SECURITY, token=token).body["two_factor"]["enabled"] is False
    assert h.post(CONFIRM, {"code": h.code(secret)}, token=token).status == 200


def test_confirm_without_a_pending_enrollment_is_not_found(h):
    h.sign_up("alice@example.com")
    token = h.session("alice@example.com")
    expect_error(h.post(CONFIRM, {"code": "123456"}, token=token), 404, "not_found")


def test_confirm_after_the_fifteen_minutes_is_not_found(h):
    h.sign_up("alice@example.com")
    token = h.session("alice@example.com")
    secret = h.post(ENROLL, token=token).body["secret"]
    h.clock.advance(15 * 60 - 1)
    assert h.post(CONFIRM, {"code": h.code(secret)}, token=token).status == 200

    h.sign_up("bob@example.com")
    token = h.session("bob@example.com")
    secret = h.post(ENROLL, token=token).body["secret"]
    h.clock.advance(15 * 60)
    expect_error(h.post(CONFIRM, {"code": h.code(secret)}, token=token), 404, "not_found")
    assert h.get(SECURITY, token=token).body["two_factor"]["enabled"] is False


def test_confirm_when_already_enabled_is_not_found(h):
    token, secret, _ = h.user_with_two_factor("alice@example.com")
    expect_error(h.post(CONFIRM, {"code": h.code(secret)}, token=token), 404, "not_found")


def test_confirm_refuses_malformed_codes(h):
    h.sign_up("alice@example.com")
    token = h.session("alice@example.com")
    secret = h.post(ENROLL, token=token).body["secret"]
    for body in (
        {},
        {"code": "12345"},
        {"code": "1234567"},
        {"code": "12345\n6"},
        {"code": "\uff11\uff12\uff13\uff14\uff15\uff16"},
        {"code": 123456},
        {"code": True},
        {"backup_code": "ABCD2345-6789WXYZ"},
        {"code": h.code(secret), "secret": secret},
    ):
        expect_error(h.post(CONFIRM, body, token=token), 400, "invalid_request")
    expect_error(h.post(CONFIRM, token=token, raw="{"), 400, "invalid_request")
    expect_error(h.post(CONFIRM, token=token, raw="[]"), 400, "invalid_request")
    expect_error(
        h.post(CONFIRM, token=token, raw=json.dumps({"code": "123456"}), headers={"content-type": "text/plain"}),
        400,
        "invalid_request",
    )
    expect_error(h.post(CONFIRM, token=token, raw='{"code": "' + " " * 17000 + '"}'), 413, "payload_too_large")
    code = h.code(secret)
    assert h.post(CONFIRM, {"code": f" {code[:3]} {code[3:]} "}, token=token).status == 200


# -- enrollment tokens -------------------------------------------------------------------------


def test_sign_in_during_the_grace_period_shows_the_deadline(h):
    owner_token, _ = organization_requiring_two_factor(h)
    h.sign_up("member@example.com")
    org_id = h.post("/v1/orgs", {"name": "Beta", "plan": "business"}, token=owner_token).body["org_id"]
    added = h.join(org_id, owner_token, "member@example.com")
    assert added.status == 200 and added.body["status"] == "not_required"
    reply = h.put(f"/v1/orgs/{org_id}/security", {"require_two_factor": True}, token=owner_token)
    assert reply.status == 200
    signed_in = h.sign_in("member@example.com")
    assert set(signed_in.body) == {"status", "session_token", "expires_at", "two_factor_deadline"}
    assert signed_in.body["two_factor_deadline"] == format_time(h.clock.now() + 30 * 86400)
    # Past it, the password step yields only an enrollment token.
    h.clock.advance(30 * 86400)
    assert h.sign_in("member@example.com").body["status"] == "enrollment_required"


def test_enrollment_token_flow(h):
    token, org_id, body = enrollment_token(h)
    assert set(body) == {"status", "enrollment_token", "expires_at", "organizations"}
    assert body["organizations"] == [{"org_id": org_id, "name": "Acme"}]
    assert body["expires_at"] == format_time(h.clock.now() + 15 * 60)

    security = h.get(SECURITY, token=token)
    assert security.status == 200
    assert security.body["organizations"][0]["status"] == "locked"
    secret = h.post(ENROLL, token=token).body["secret"]
    reply = h.post(CONFIRM, {"code": h.code(secret)}, token=token)
    assert reply.status == 200
    assert set(reply.body) == {"enabled", "backup_codes", "session_token", "expires_at"}
    assert reply.body["expires_at"] == format_time(h.clock.now() + 12 * 3600)
    session = reply.body["session_token"]
    overview = h.get(SECURITY, token=session)
    assert overview.body["two_factor"]["enabled"] is True
    assert overview.body["organizations"][0]["status"] == "compliant"
    # The enrollment token has done its job.
    expect_error(h.get(SECURITY, token=token), 401, "unauthorized")
    h.clock.advance(30)
    assert h.sign_in_with_code("member@example.com", secret).status == 200


def test_enrollment_token_is_valid_only_for_the_overview_and_enrollment(h):
    token, _, _ = enrollment_token(h)
    for method, path, body in [
        ("POST", VERIFY, {"code": "123456"}),
        ("POST", REGENERATE, {"code": "123456"}),
        ("POST", DISABLE, {"code": "123456"}),
        ("DELETE", "/v1/sessions/current", None),
        ("DELETE", "/v1/me/two-factor/reset", None),
        ("POST", "/v1/orgs", {"name": "Mine", "plan": "free"}),
    ]:
        expect_error(h.request(method, path, body, token=token), 401, "unauthorized")
    assert h.get(SECURITY, token=token).status == 200


def test_enrollment_token_expires_after_fifteen_minutes(h):
    token, _, _ = enrollment_token(h)
    secret = h.post(ENROLL, token=token).body["secret"]
    h.clock.advance(15 * 60)
    expect_error(h.get(SECURITY, token=token), 401, "unauthorized")
    expect_error(h.post(CONFIRM, {"code": h.code(secret)}, token=token), 401, "unauthorized")
    expect_error(h.post(ENROLL, token=token), 401, "unauthorized")


# -- POST /v1/me/two-factor/backup-codes -------------------------------------------------------


def test_regenerate_replaces_every_backup_code(h):
    token, secret, old = h.user_with_two_factor("alice@example.com")
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    assert h.post(VERIFY, {"backup_code": old[0]}, token=challenge).body["backup_codes_remaining"] == 7
    reply = h.post(REGENERATE, {"code": h.code(secret)}, token=token)
    assert reply.status == 200
    assert set(reply.body) == {"backup_codes"}
    new = reply.body["backup_codes"]
    assert len(set(new)) == 8 and all(BACKUP_CODE.fullmatch(c) for c in new)
    assert not set(new) & set(old)
    assert h.get(SECURITY, token=token).body["two_factor"]["backup_codes_remaining"] == 8
    for code in old[1:3]:
        challenge = h.sign_in("alice@example.com").body["challenge_token"]
        expect_error(h.post(VERIFY, {"backup_code": code}, token=challenge), 401, "invalid_code")
    reply = h.post(VERIFY, {"backup_code": new[5].lower()}, token=challenge)
    assert reply.status == 200 and reply.body["backup_codes_remaining"] == 7
    assert len(emails(h, "alice@example.com", "New backup codes")) == 1


def test_regenerate_uses_up_its_code(h):
    token, secret, _ = h.user_with_two_factor("alice@example.com")
    code = h.code(secret)
    assert h.post(REGENERATE, {"code": code}, token=token).status == 200
    expect_error(h.post(REGENERATE, {"code": code}, token=token), 401, "invalid_code")
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    expect_error(h.post(VERIFY, {"code": code}, token=challenge), 401, "invalid_code")


def test_regenerate_errors(h):
    token, secret, codes = h.user_with_two_factor("alice@example.com")
    expect_error(h.post(REGENERATE, {"code": wrong(h.code(secret))}, token=token), 401, "invalid_code")
    expect_error(h.post(REGENERATE, {"backup_code": codes[0]}, token=token), 400, "invalid_request")
    expect_error(h.post(REGENERATE, {"code": "12 345"}, token=token), 400, "invalid_request")
    expect_error(h.post(REGENERATE, token=token), 400, "invalid_request")
    h.sign_up("bob@example.com")
    expect_error(h.post(REGENERATE, {"code": "123456"}, token=h.session("bob@example.com")), 409, "not_enabled")
    # The failed attempts changed nothing.
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    assert h.post(VERIFY, {"backup_code": codes[0]}, token=challenge).status == 200


# -- POST /v1/me/two-factor/disable ------------------------------------------------------------


def test_disable_with_a_code_deletes_the_secret_and_codes(h):
    token, secret, _ = h.user_with_two_factor("alice@example.com")
    user_id = h.get(SECURITY, token=token).body["user_id"]
    assert {"TOTP", "BACKUP"} <= set(user_items(h, user_id))
    reply = h.post(DISABLE, {"code": h.code(secret)}, token=token)
    assert reply.status == 200
    assert reply.body == {"enabled": False}
    assert not {"TOTP", "BACKUP"} & set(user_items(h, user_id))
    assert h.get(SECURITY, token=token).body["two_factor"] == {
        "enabled": False,
        "enabled_at": None,
        "backup_codes_remaining": 0,
    }
    assert h.sign_in("alice@example.com").body["status"] == "signed_in"
    assert len(emails(h, "alice@example.com", "Two-factor authentication is off")) == 1
    # 2FA can be turned on again, with a new secret.
    new_secret, _ = h.enroll(token)
    assert new_secret != secret


def test_disable_with_a_backup_code_in_lower_case_without_dash(h):
    token, _, codes = h.user_with_two_factor("alice@example.com")
    reply = h.post(DISABLE, {"backup_code": codes[4].lower().replace("-", "")}, token=token)
    assert reply.status == 200 and reply.body == {"enabled": False}
    assert h.sign_in("alice@example.com").body["status"] == "signed_in"


def test_disable_revokes_other_sessions_and_keeps_the_current_one(h):
    current, secret, _ = h.user_with_two_factor("alice@example.com")
    other = h.sign_in_with_code("alice@example.com", secret).body["session_token"]
    h.clock.advance(30)
    assert h.post(DISABLE, {"code": h.code(secret)}, token=current).status == 200
    assert h.get(SECURITY, token=current).status == 200
    expect_error(h.get(SECURITY, token=other), 401, "unauthorized")


def test_disable_errors(h):
    token, secret, codes = h.user_with_two_factor("alice@example.com")
    expect_error(h.post(DISABLE, {"code": wrong(h.code(secret))}, token=token), 401, "invalid_code")
    expect_error(h.post(DISABLE, {"backup_code": "ZZZZZZZZ-ZZZZZZZZ"}, token=token), 401, "invalid_code")
    both = {"code": h.code(secret), "backup_code": codes[0]}
    expect_error(h.post(DISABLE, both, token=token), 400, "invalid_request")
    expect_error(h.post(DISABLE, {}, token=token), 400, "invalid_request")
    expect_error(h.post(DISABLE, {"code": "\uff11\uff12\uff13\uff14\uff15\uff16"}, token=token), 400, "invalid_request")
    assert h.get(SECURITY, token=token).body["two_factor"]["enabled"] is True
    h.sign_up("bob@example.com")
    bob = h.session("bob@example.com")
    expect_error(h.post(DISABLE, {"code": "123456"}, token=bob), 409, "not_enabled")
    expect_error(h.post(DISABLE, {"backup_code": codes[0]}, token=bob), 409, "not_enabled")


def test_disable_with_a_used_backup_code_is_refused(h):
    token, _, codes = h.user_with_two_factor("alice@example.com")
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    assert h.post(VERIFY, {"backup_code": codes[0]}, token=challenge).status == 200
    expect_error(h.post(DISABLE, {"backup_code": codes[0]}, token=token), 401, "invalid_code")


def test_disable_with_a_replayed_code_is_refused(h):
    token, secret, _ = h.user_with_two_factor("alice@example.com")
    assert h.sign_in_with_code("alice@example.com", secret).status == 200
    expect_error(h.post(DISABLE, {"code": h.code(secret)}, token=token), 401, "invalid_code")


def test_disable_while_an_organization_requires_two_factor_is_a_conflict(h):
    owner_token, _ = organization_requiring_two_factor(h)
    reply = h.post(DISABLE, {"code": "123456"}, token=owner_token)
    expect_error(reply, 409, "org_requires_two_factor")
    assert h.get(SECURITY, token=owner_token).body["two_factor"]["enabled"] is True


def test_an_sso_member_may_disable_while_the_organization_requires_two_factor(h):
    owner_token, org_id = organization_requiring_two_factor(h)
    token, secret, _ = h.user_with_two_factor("sso@example.com")
    added = h.join(org_id, owner_token, "sso@example.com", sso=True, session=token)
    assert added.status == 200 and added.body["status"] == "exempt"
    assert h.post(DISABLE, {"code": h.code(secret)}, token=token).status == 200


# -- DELETE /v1/me/two-factor/reset ------------------------------------------------------------


def test_cancel_reset_without_one_pending_is_a_conflict(h):
    token, _, _ = h.user_with_two_factor("alice@example.com")
    expect_error(h.delete("/v1/me/two-factor/reset", token=token), 409, "no_pending_reset")
    expect_error(h.delete("/v1/me/two-factor/reset"), 401, "unauthorized")


# -- throttling --------------------------------------------------------------------------------


def wrong_code_at_sign_in(h, email, secret):
    """One wrong code through a new challenge, as an attacker with the password would."""
    challenge = h.sign_in(email).body["challenge_token"]
    return h.post(VERIFY, {"code": wrong(h.code(secret))}, token=challenge)


def lockout_emails(h, email):
    return emails(h, email, "Too many wrong two-factor codes")


def test_five_wrong_codes_lock_out_the_sixth_attempt_across_challenges(h):
    _, secret, codes = h.user_with_two_factor("alice@example.com")
    for _ in range(4):
        expect_error(wrong_code_at_sign_in(h, "alice@example.com", secret), 401, "invalid_code")
    assert lockout_emails(h, "alice@example.com") == []
    expect_error(wrong_code_at_sign_in(h, "alice@example.com", secret), 401, "invalid_code")
    assert len(lockout_emails(h, "alice@example.com")) == 1

    # The password still works, the second step does not, however right the code.
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    for body in ({"code": h.code(secret)}, {"backup_code": codes[0]}, {"code": wrong(h.code(secret))}):
        reply = h.post(VERIFY, body, token=challenge)
        expect_error(reply, 429, "too_many_attempts")
        assert reply.headers["Retry-After"] == "60"
    h.clock.advance(20)
    assert h.post(VERIFY, {"code": h.code(secret)}, token=challenge).headers["Retry-After"] == "40"
    # Refused attempts are not checked, so they neither count nor send more email.
    assert len(lockout_emails(h, "alice@example.com")) == 1


def test_lockout_doubles_and_only_a_correct_second_factor_resets_it(h):
    _, secret, _ = h.user_with_two_factor("alice@example.com")
    for _ in range(5):
        wrong_code_at_sign_in(h, "alice@example.com", secret)
    h.clock.advance(60)
    # The lockout has ended, but the count has not: one more failure locks for 2 minutes.
    expect_error(wrong_code_at_sign_in(h, "alice@example.com", secret), 401, "invalid_code")
    reply = wrong_code_at_sign_in(h, "alice@example.com", secret)
    expect_error(reply, 429, "too_many_attempts")
    assert reply.headers["Retry-After"] == "120"
    h.clock.advance(120)
    expect_error(wrong_code_at_sign_in(h, "alice@example.com", secret), 401, "invalid_code")
    assert wrong_code_at_sign_in(h, "alice@example.com", secret).headers["Retry-After"] == "240"
    assert len(lockout_emails(h, "alice@example.com")) == 3

    # A correct password changed nothing; a correct code after the lockout resets the count.
    h.clock.advance(240)
    assert h.sign_in_with_code("alice@example.com", secret).status == 200
    for _ in range(4):
        expect_error(wrong_code_at_sign_in(h, "alice@example.com", secret), 401, "invalid_code")
    h.clock.advance(30)
    assert h.sign_in_with_code("alice@example.com", secret).status == 200


def test_lockout_is_at_most_one_hour(h):
    _, secret, _ = h.user_with_two_factor("alice@example.com")
    for _ in range(5):
        wrong_code_at_sign_in(h, "alice@example.com", secret)
    for expected in (120, 240, 480, 960, 1920, 3600, 3600):
        h.clock.advance(3600)
        wrong_code_at_sign_in(h, "alice@example.com", secret)
        assert wrong_code_at_sign_in(h, "alice@example.com", secret).headers["Retry-After"] == str(expected)


def test_failures_count_per_user_across_endpoints_and_sessions(h):
    token, secret, codes = h.user_with_two_factor("alice@example.com")
    h.sign_up("bob@example.com")
    bob = h.session("bob@example.com")
    other_session = h.sign_in_with_code("alice@example.com", secret).body["session_token"]
    h.clock.advance(30)
    expect_error(h.post(DISABLE, {"code": wrong(h.code(secret))}, token=token), 401, "invalid_code")
    expect_error(h.post(DISABLE, {"backup_code": "ZZZZZZZZ-ZZZZZZZZ"}, token=other_session), 401, "invalid_code")
    expect_error(h.post(REGENERATE, {"code": wrong(h.code(secret))}, token=token), 401, "invalid_code")
    expect_error(wrong_code_at_sign_in(h, "alice@example.com", secret), 401, "invalid_code")
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    expect_error(h.post(VERIFY, {"backup_code": "ZZZZZZZZ-ZZZZZZZZ"}, token=challenge), 401, "invalid_code")
    for method, path, body, session in [
        ("POST", VERIFY, {"code": h.code(secret)}, challenge),
        ("POST", REGENERATE, {"code": h.code(secret)}, token),
        ("POST", DISABLE, {"code": h.code(secret)}, other_session),
        ("POST", DISABLE, {"backup_code": codes[0]}, token),
    ]:
        expect_error(h.request(method, path, body, token=session), 429, "too_many_attempts")
    # Another user is not affected.
    secret_bob, _ = h.enroll(bob)
    assert h.sign_in_with_code("bob@example.com", secret_bob).status == 200


def test_confirm_is_throttled_too(h):
    h.sign_up("alice@example.com")
    token = h.session("alice@example.com")
    secret = h.post(ENROLL, token=token).body["secret"]
    for _ in range(5):
        expect_error(h.post(CONFIRM, {"code": wrong(h.code(secret))}, token=token), 401, "invalid_code")
    expect_error(h.post(CONFIRM, {"code": h.code(secret)}, token=token), 429, "too_many_attempts")
    assert len(lockout_emails(h, "alice@example.com")) == 1
    h.clock.advance(60)
    assert h.post(CONFIRM, {"code": h.code(secret)}, token=token).status == 200


# -- emails ------------------------------------------------------------------------------------


def test_each_change_is_emailed_without_any_secret(h):
    token, secret, codes = h.user_with_two_factor("alice@example.com")
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    h.post(VERIFY, {"backup_code": codes[0]}, token=challenge)
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    h.post(VERIFY, {"backup_code": codes[1]}, token=challenge)
    new_codes = h.post(REGENERATE, {"code": h.code(secret)}, token=token).body["backup_codes"]
    h.clock.advance(30)
    h.post(DISABLE, {"code": h.code(secret)}, token=token)
    sent = h.emails("alice@example.com")
    assert [e["subject"] for e in sent] == [
        "Two-factor authentication is on",
        "A backup code was used",
        "A backup code was used",
        "New backup codes",
        "Two-factor authentication is off",
    ]
    assert "7 unused backup codes left" in sent[1]["body"]
    assert "6 unused backup codes left" in sent[2]["body"]
    text = json.dumps(h.emails())
    for value in [secret, PASSWORD, *codes, *new_codes, *(c.replace("-", "") for c in codes + new_codes)]:
        assert value not in text


def test_a_failed_email_does_not_undo_the_change(h):
    from chalicelib import aws

    def refuse(**kwargs):
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "Throttling", "Message": "Maximum sending rate exceeded."}}, "SendEmail")

    h.sign_up("alice@example.com")
    token = h.session("alice@example.com")
    aws.client("ses").meta.events.register("before-call.ses.SendEmail", refuse)
    secret, codes = h.enroll(token)
    assert h.get(SECURITY, token=token).body["two_factor"]["enabled"] is True
    assert h.emails("alice@example.com") == []
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    assert h.post(VERIFY, {"backup_code": codes[0]}, token=challenge).status == 200
    assert h.post(DISABLE, {"code": h.code(secret)}, token=token).status == 200
