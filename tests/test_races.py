"""Concurrent second-factor requests with the worst interleaving forced (`devkit.races`):
every request reads the same state before any decisive write; exactly one may win."""

from collections import Counter

import pytest

from devkit.races import WorstInterleaving

VERIFY = "/v1/sessions/verify"
CONFIRM = "/v1/me/two-factor/enrollment/confirm"
DISABLE = "/v1/me/two-factor/disable"


def items_of(h, pk):
    return {item["sk"]["S"]: item for item in h.table_items() if item["pk"]["S"] == pk}


def sessions_of(h, user_id):
    return [item for item in items_of(h, f"TOKEN#{user_id}").values() if item["kind"]["S"] == "session"]


def after_failures(h, failures):
    """Alice with 2FA after `failures` wrong codes at separate sign-ins, and two fresh challenges:
    (user id, secret, the wrong code, challenges)."""
    token, secret, _ = h.user_with_two_factor("alice@example.com")
    user_id = h.get("/v1/me/security", token=token).body["user_id"]
    wrong = f"{(int(h.code(secret)) + 1) % 1_000_000:06d}"
    for _ in range(failures):
        challenge = h.sign_in("alice@example.com").body["challenge_token"]
        assert h.post(VERIFY, {"code": wrong}, token=challenge).status == 401
    challenges = [h.sign_in("alice@example.com").body["challenge_token"] for _ in range(2)]
    return user_id, secret, wrong, challenges


def outcome(replies):
    return Counter((reply.status, (reply.body or {}).get("error", {}).get("code")) for reply in replies)


def test_one_code_verified_twice_at_once_signs_in_once(h, monkeypatch):
    token, secret, _ = h.user_with_two_factor("alice@example.com")
    user_id = h.get("/v1/me/security", token=token).body["user_id"]
    challenges = [h.sign_in("alice@example.com").body["challenge_token"] for _ in range(2)]
    code = h.code(secret)
    sessions_before = len(sessions_of(h, user_id))

    race = WorstInterleaving(monkeypatch, 2, "sign_in_with_second_factor")
    replies = race.run(*(lambda c=c: h.post(VERIFY, {"code": code}, token=c) for c in challenges))

    assert outcome(replies) == Counter({(200, None): 1, (401, "invalid_code"): 1})
    winner = next(r for r in replies if r.status == 200)
    assert h.get("/v1/me/security", token=winner.body["session_token"]).status == 200
    assert len(sessions_of(h, user_id)) == sessions_before + 1
    user = items_of(h, f"USER#{user_id}")
    assert int(user["TOTP"]["last_step"]["N"]) == h.clock.now() // 30
    assert int(user["PROFILE"]["failures"]["N"]) == 1  # the replay counts as a failed attempt
    # Exactly one challenge was used up; the other is still valid, but the code is spent.
    again = outcome([h.post(VERIFY, {"code": code}, token=c) for c in challenges])
    assert again == Counter({(401, "unauthorized"): 1, (401, "invalid_code"): 1})


def test_one_backup_code_used_twice_at_once_signs_in_once(h, monkeypatch):
    token, _, codes = h.user_with_two_factor("alice@example.com")
    user_id = h.get("/v1/me/security", token=token).body["user_id"]
    challenges = [h.sign_in("alice@example.com").body["challenge_token"] for _ in range(2)]
    typed = [codes[0], codes[0].lower().replace("-", "")]  # the same code, typed two ways

    race = WorstInterleaving(monkeypatch, 2, "sign_in_with_second_factor")
    replies = race.run(
        *(lambda c=c, b=b: h.post(VERIFY, {"backup_code": b}, token=c) for c, b in zip(challenges, typed, strict=True))
    )

    assert outcome(replies) == Counter({(200, None): 1, (401, "invalid_code"): 1})
    assert next(r for r in replies if r.status == 200).body["backup_codes_remaining"] == 7
    assert len(items_of(h, f"USER#{user_id}")["BACKUP"]["hashes"]["SS"]) == 7
    assert len([e for e in h.emails("alice@example.com") if e["subject"] == "A backup code was used"]) == 1
    assert h.get("/v1/me/security", token=token).body["two_factor"]["backup_codes_remaining"] == 7


@pytest.mark.parametrize("same_session", [True, False])
def test_two_confirms_of_one_enrollment_enable_once(h, monkeypatch, same_session):
    user_id = h.sign_up("alice@example.com")
    first = h.session("alice@example.com")
    second = first if same_session else h.session("alice@example.com")
    secret = h.post("/v1/me/two-factor/enrollment", token=first).body["secret"]
    codes = [h.code(secret), h.code(secret, 30)]  # both valid now

    race = WorstInterleaving(monkeypatch, 2, "activate_two_factor")
    replies = race.run(
        lambda: h.post(CONFIRM, {"code": codes[0]}, token=first),
        lambda: h.post(CONFIRM, {"code": codes[1]}, token=second),
    )

    statuses = outcome(replies)
    assert statuses[(200, None)] == 1
    assert statuses[(404, "not_found")] + statuses[(401, "invalid_code")] + statuses[(401, "unauthorized")] == 1
    winner_index = next(i for i, r in enumerate(replies) if r.status == 200)
    winner_codes = replies[winner_index].body["backup_codes"]
    user = items_of(h, f"USER#{user_id}")
    assert user["TOTP"]["status"]["S"] == "active"
    assert int(user["TOTP"]["last_step"]["N"]) == h.clock.now() // 30 + winner_index
    assert int(user["PROFILE"]["session_epoch"]["N"]) == 1  # moved once, not twice
    assert len(user["BACKUP"]["hashes"]["SS"]) == 8
    assert len([e for e in h.emails("alice@example.com") if e["subject"] == "Two-factor authentication is on"]) == 1
    enabled_events = [i for i in items_of(h, f"AUDIT#{user_id}").values() if i["kind"]["S"] == "two_factor_enabled"]
    assert len(enabled_events) == 1
    # The stored backup codes are the winner's: the ones the user was shown.
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    assert h.post(VERIFY, {"backup_code": winner_codes[0]}, token=challenge).status == 200
    # The winner's session survived; the other session, if separate, was revoked.
    assert h.get("/v1/me/security", token=[first, second][winner_index]).status == 200
    if not same_session:
        assert h.get("/v1/me/security", token=[first, second][1 - winner_index]).status == 401


@pytest.mark.parametrize("disable_first", [False, True])
def test_one_code_used_to_sign_in_and_to_disable_at_once(h, monkeypatch, disable_first):
    token, secret, _ = h.user_with_two_factor("alice@example.com")
    user_id = h.get("/v1/me/security", token=token).body["user_id"]
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    code = h.code(secret)
    sign_in = lambda: h.post(VERIFY, {"code": code}, token=challenge)  # noqa: E731
    disable = lambda: h.post(DISABLE, {"code": code}, token=token)  # noqa: E731

    race = WorstInterleaving(monkeypatch, 2, "sign_in_with_second_factor", "deactivate_two_factor")
    replies = race.run(disable, sign_in) if disable_first else race.run(sign_in, disable)

    assert (replies[0].status, replies[1].status) == (200, 401)
    assert replies[1].body["error"]["code"] == "invalid_code"
    user = items_of(h, f"USER#{user_id}")
    if disable_first:  # secret and codes are gone together
        assert not {"TOTP", "BACKUP"} & set(user)
    else:  # signed in: 2FA is still on
        assert user["TOTP"]["status"]["S"] == "active" and "BACKUP" in user


@pytest.mark.parametrize("regenerate_first", [True, False])
def test_one_code_used_to_regenerate_and_to_sign_in_at_once(h, monkeypatch, regenerate_first):
    token, secret, old_codes = h.user_with_two_factor("alice@example.com")
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    code = h.code(secret)
    regenerate = lambda: h.post("/v1/me/two-factor/backup-codes", {"code": code}, token=token)  # noqa: E731
    sign_in = lambda: h.post(VERIFY, {"code": code}, token=challenge)  # noqa: E731

    race = WorstInterleaving(monkeypatch, 2, "replace_backup_codes", "sign_in_with_second_factor")
    if regenerate_first:
        regenerated, signed_in = race.run(regenerate, sign_in)
        winner, loser = regenerated, signed_in
    else:
        signed_in, regenerated = race.run(sign_in, regenerate)
        winner, loser = signed_in, regenerated
    assert winner.status == 200
    assert (loser.status, loser.body["error"]["code"]) == (401, "invalid_code")

    # The backup codes that work are exactly the ones last shown to the user.
    valid = regenerated.body["backup_codes"] if regenerate_first else old_codes
    stale = old_codes if regenerate_first else []
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    reply = h.post(VERIFY, {"backup_code": valid[0]}, token=challenge)
    assert reply.status == 200 and reply.body["backup_codes_remaining"] == 7
    for code in stale[:1]:
        challenge = h.sign_in("alice@example.com").body["challenge_token"]
        assert h.post(VERIFY, {"backup_code": code}, token=challenge).status == 401
    regenerated_emails = [e for e in h.emails("alice@example.com") if e["subject"] == "New backup codes"]
    assert len(regenerated_emails) == (1 if regenerate_first else 0)


def test_a_right_code_racing_the_start_of_a_lockout_is_refused(h, monkeypatch):
    """Four failures, then a wrong and a right code at once. The wrong one starts the lockout
    first; the right one must not sign in past it (nor reset the count)."""
    user_id, secret, wrong, challenges = after_failures(h, 4)

    race = WorstInterleaving(monkeypatch, 2, "record_failure", "sign_in_with_second_factor")
    replies = race.run(
        lambda: h.post(VERIFY, {"code": wrong}, token=challenges[0]),
        lambda: h.post(VERIFY, {"code": h.code(secret)}, token=challenges[1]),
    )

    assert (replies[0].status, replies[0].body["error"]["code"]) == (401, "invalid_code")
    assert (replies[1].status, replies[1].body["error"]["code"]) == (429, "too_many_attempts")
    assert replies[1].headers["Retry-After"] == "60"
    profile = items_of(h, f"USER#{user_id}")["PROFILE"]
    assert int(profile["failures"]["N"]) == 5
    assert len(sessions_of(h, user_id)) == 1  # only the one from enrollment


def test_two_wrong_codes_at_once_are_both_counted(h, monkeypatch):
    user_id, _, wrong, challenges = after_failures(h, 3)

    race = WorstInterleaving(monkeypatch, 2, "record_failure")
    replies = race.run(*(lambda c=c: h.post(VERIFY, {"code": wrong}, token=c) for c in challenges))

    # Both read 3 failures; the second writer counts on top of the first instead of over it.
    assert outcome(replies) == Counter({(401, "invalid_code"): 2})
    profile = items_of(h, f"USER#{user_id}")["PROFILE"]
    assert int(profile["failures"]["N"]) == 5
    assert int(profile["locked_until"]["N"]) == h.clock.now() + 60
    assert len([e for e in h.emails("alice@example.com") if "Too many" in e["subject"]]) == 1


def test_a_wrong_code_racing_the_lockout_is_refused(h, monkeypatch):
    user_id, _, wrong, challenges = after_failures(h, 4)

    race = WorstInterleaving(monkeypatch, 2, "record_failure")
    replies = race.run(*(lambda c=c: h.post(VERIFY, {"code": wrong}, token=c) for c in challenges))

    # The first failure starts the lockout; the second finds it begun and is refused.
    assert outcome(replies) == Counter({(401, "invalid_code"): 1, (429, "too_many_attempts"): 1})
    assert next(r for r in replies if r.status == 429).headers["Retry-After"] == "60"
    assert int(items_of(h, f"USER#{user_id}")["PROFILE"]["failures"]["N"]) == 5
    assert len([e for e in h.emails("alice@example.com") if "Too many" in e["subject"]]) == 1


@pytest.mark.parametrize("confirm_first", [True, False])
def test_restarting_enrollment_while_confirming_never_activates_an_unconfirmed_secret(h, monkeypatch, confirm_first):
    """In the same second, one tab confirms the shown secret while another starts over."""
    user_id = h.sign_up("alice@example.com")
    token = h.session("alice@example.com")
    shown = h.post("/v1/me/two-factor/enrollment", token=token).body["secret"]
    confirm = lambda: h.post(CONFIRM, {"code": h.code(shown)}, token=token)  # noqa: E731
    restart = lambda: h.post("/v1/me/two-factor/enrollment", token=token)  # noqa: E731

    race = WorstInterleaving(monkeypatch, 2, "activate_two_factor", "put_pending_enrollment")
    if confirm_first:
        confirmed, restarted = race.run(confirm, restart)
        assert confirmed.status == 200
        assert (restarted.status, restarted.body["error"]["code"]) == (409, "already_enabled")
    else:
        restarted, confirmed = race.run(restart, confirm)
        assert restarted.status == 201
        assert (confirmed.status, confirmed.body["error"]["code"]) == (404, "not_found")
        assert items_of(h, f"USER#{user_id}")["TOTP"]["status"]["S"] == "pending"
        # The new secret is the one to confirm now.
        shown = restarted.body["secret"]
        h.clock.advance(30)
        assert h.post(CONFIRM, {"code": h.code(shown)}, token=token).status == 200
    # Whatever is active is the secret the user confirmed.
    h.clock.advance(30)
    assert h.sign_in_with_code("alice@example.com", shown).status == 200
