"""Claim B13: wrong passwords are throttled per account, and the throttle does not reveal
whether an account exists (DESIGN.md, "Throttling"; API.md, POST /v1/sessions)."""

from __future__ import annotations

import logging
import os
from collections import Counter

import pytest

from chalicelib import passwords
from chalicelib.passwords import email_digest
from devkit import stack
from devkit.counting import RequestCounter
from devkit.harness import PASSWORD, Harness
from devkit.races import WorstInterleaving

ALICE = "alice@example.com"
NOBODY = "nobody@example.com"
WRONG = "not the password"
PAUSES = [60, 120, 240, 480, 960, 1920, 3600, 3600]  # from the 10th wrong password on


def answer(reply) -> tuple[int, str | None, str | None]:
    """What a client sees: status, error code and Retry-After."""
    code = reply.body["error"]["code"] if reply.status >= 400 else reply.body["status"]
    return reply.status, code, reply.headers.get("Retry-After")


def wrong_passwords(h: Harness, email: str, count: int) -> list[tuple[int, str | None, str | None]]:
    return [answer(h.sign_in(email, WRONG)) for _ in range(count)]


def counter_item(h: Harness, email: str) -> dict | None:
    found = [i for i in h.table_items() if i["pk"]["S"] == f"LOGIN#{email_digest(email)}"]
    return found[0] if found else None


def failures(h: Harness, email: str) -> int:
    item = counter_item(h, email)
    return int(item["failures"]["N"]) if item else 0


def pause_emails(h: Harness, email: str) -> list[dict]:
    return [e for e in h.emails(email) if e["subject"] == "Too many wrong passwords"]


# -- the throttle ------------------------------------------------------------------------------


def test_the_tenth_wrong_password_pauses_for_a_minute_doubling_to_an_hour(h):
    h.sign_up(ALICE)
    assert wrong_passwords(h, ALICE, 9) == [(401, "invalid_credentials", None)] * 9
    seen = []
    for pause in PAUSES:
        seen.append(answer(h.sign_in(ALICE, WRONG)))
        h.clock.advance(pause - 1)
        assert answer(h.sign_in(ALICE, WRONG)) == (429, "too_many_attempts", "1")  # not counted
        h.clock.advance(1)
    assert seen == [(429, "too_many_attempts", str(pause)) for pause in PAUSES]
    assert failures(h, ALICE) == 9 + len(PAUSES)
    assert h.sign_in(ALICE).body["status"] == "signed_in"


def test_a_right_password_during_a_pause_is_refused_without_being_checked(h, monkeypatch):
    h.sign_up(ALICE)
    wrong_passwords(h, ALICE, 10)
    checked = []
    monkeypatch.setattr(passwords, "verify_password", lambda *args: checked.append(args) or True)
    h.clock.advance(30)
    reply = h.sign_in(ALICE)
    assert answer(reply) == (429, "too_many_attempts", "30")
    assert reply.body["error"]["message"] == "Too many wrong passwords for this email. Wait before trying again."
    assert checked == []
    h.clock.advance(30)
    assert h.sign_in(ALICE).body["status"] == "signed_in"
    assert len(checked) == 1


@pytest.mark.parametrize("two_factor", [False, True])
def test_a_right_password_not_refused_clears_the_count(h, two_factor):
    """With 2FA on too: only someone who knows the password can clear its count. It leaves the
    second-factor count alone (test_api_two_factor: only a second factor clears that one)."""
    if two_factor:
        h.user_with_two_factor(ALICE)
    else:
        h.sign_up(ALICE)
    wrong_passwords(h, ALICE, 9)
    assert h.sign_in(ALICE).status == 200
    assert failures(h, ALICE) == 0
    assert wrong_passwords(h, ALICE, 9) == [(401, "invalid_credentials", None)] * 9
    assert answer(h.sign_in(ALICE, WRONG))[:2] == (429, "too_many_attempts")


def test_the_count_is_per_address(h):
    h.sign_up(ALICE)
    h.sign_up("bob@example.com")
    wrong_passwords(h, ALICE, 10)
    assert h.sign_in("bob@example.com").body["status"] == "signed_in"
    assert h.sign_in(ALICE.upper()).status == 429  # the same address in other letters


def test_a_count_untouched_for_a_day_after_its_pause_is_forgotten(h):
    h.sign_up(ALICE)
    wrong_passwords(h, ALICE, 10)
    item = counter_item(h, ALICE)
    assert int(item["ttl"]["N"]) == h.clock.now() + 60 + 24 * 3600
    h.clock.advance(60 + 24 * 3600)  # DynamoDB deletes late: the item may still be there
    assert wrong_passwords(h, ALICE, 9) == [(401, "invalid_credentials", None)] * 9
    assert failures(h, ALICE) == 9


# -- the owner is told -------------------------------------------------------------------------


def test_the_owner_is_emailed_when_a_pause_starts_at_most_once_a_day(h):
    h.sign_up(ALICE)
    wrong_passwords(h, ALICE, 10)
    assert h.drain() == {"password_pause_notices": 1}
    [email] = pause_emails(h, ALICE)
    assert "signing in is paused until 2026-11-27T09:01:00Z" in email["body"]
    assert WRONG not in email["body"]
    # An attacker who keeps at it starts a pause every time one ends: one email a day.
    started = h.clock.now()
    while h.clock.now() < started + 2 * 24 * 3600:
        reply = h.sign_in(ALICE, WRONG)
        assert reply.status == 429
        h.clock.advance(int(reply.headers["Retry-After"]))
        h.drain()
    assert len(pause_emails(h, ALICE)) == 2  # the first pause, and the first a day after it


def test_a_pause_notice_that_cannot_be_queued_leaves_the_count(h, caplog):
    h.sign_up(ALICE)
    wrong_passwords(h, ALICE, 9)
    from tests.test_faults import Fault

    fault = Fault("sqs", "SendMessageBatch", 500, "InternalError")
    with caplog.at_level(logging.WARNING):
        assert answer(h.sign_in(ALICE, WRONG)) == (429, "too_many_attempts", "60")
    fault.remove()
    assert failures(h, ALICE) == 10
    assert "password pause notice not queued" in caplog.text
    assert h.drain() == {}


def test_a_pause_notice_the_mailer_refuses_is_delivered_again(h, monkeypatch):
    from chalicelib import wiring
    from chalicelib.worker import NoticesNotSent, password_pause_message

    h.sign_up(ALICE)
    wrong_passwords(h, ALICE, 10)
    [message] = h.take_messages()
    assert message == password_pause_message(ALICE, h.clock.now() + 60)
    monkeypatch.setattr(wiring.dependencies().mailer, "send", lambda email: False)
    with pytest.raises(NoticesNotSent):
        h.deliver(message)
    monkeypatch.undo()
    assert h.deliver(message) == {"password_pause_notices": 1}
    assert len(pause_emails(h, ALICE)) == 1


# -- unknown addresses: the same answers, requests and hash cost --------------------------------


def attack(h: Harness, email: str) -> list[tuple[int, str | None, str | None]]:
    """Ten wrong passwords, one in the pause, then more as each pause ends."""
    seen = wrong_passwords(h, email, 10)
    h.clock.advance(30)
    seen += wrong_passwords(h, email, 1)
    for wait in (30, 120):
        h.clock.advance(wait)
        seen += wrong_passwords(h, email, 1)
    return seen


def test_an_unknown_address_gets_the_same_answers():
    with Harness() as h:
        h.sign_up(ALICE)
        for_alice = attack(h, ALICE)
    with Harness() as h:
        for_nobody = attack(h, NOBODY)
    assert for_nobody == for_alice
    assert for_alice[9] == (429, "too_many_attempts", "60")


def test_an_unknown_address_is_never_stored(h):
    attack(h, NOBODY)
    h.drain()
    items = h.table_items()
    assert "nobody" not in repr(items)
    [item] = items
    assert item["pk"]["S"] == f"LOGIN#{email_digest(NOBODY)}"
    assert int(item["ttl"]["N"]) > h.clock.now()
    assert h.emails() == []


def requests_per_attempt(h: Harness, email: str) -> list[Counter[str]]:
    counter = RequestCounter()
    seen = []
    for _ in range(11):  # 9 wrong, the 10th starts a pause, the 11th is refused in it
        with counter.measure() as calls:
            h.sign_in(email, WRONG)
        seen.append(Counter({name: n for name, n in calls.items() if "." in name}))
    return seen


def test_an_unknown_address_makes_the_same_backend_requests():
    with Harness() as h:
        h.sign_up(ALICE)
        for_alice = requests_per_attempt(h, ALICE)
    with Harness() as h:
        for_nobody = requests_per_attempt(h, NOBODY)
    assert for_nobody == for_alice
    wrong = Counter({"dynamodb.BatchGetItem": 1, "dynamodb.Query": 1, "dynamodb.UpdateItem": 1})
    assert for_alice[0] == wrong
    assert for_alice[9] == wrong + Counter({"sqs.SendMessageBatch": 1})  # the pause's notice
    assert for_alice[10] == Counter({"dynamodb.BatchGetItem": 1})  # refused unchecked


def test_an_unknown_address_costs_the_same_argon2id_hash(h, monkeypatch):
    import argon2

    work = []
    real_hash, real_verify = argon2.PasswordHasher.hash, argon2.PasswordHasher.verify

    def hashed(self, password, **kwargs):
        work.append(("hash", self.memory_cost, self.time_cost, self.parallelism))
        return real_hash(self, password, **kwargs)

    def verified(self, stored, password):
        params = argon2.extract_parameters(stored)
        work.append(("hash", params.memory_cost, params.time_cost, params.parallelism))
        return real_verify(self, stored, password)

    h.sign_up(ALICE)
    monkeypatch.setattr(argon2.PasswordHasher, "hash", hashed)
    monkeypatch.setattr(argon2.PasswordHasher, "verify", verified)
    h.sign_in(ALICE, WRONG)
    for_alice, work[:] = list(work), []
    h.sign_in(NOBODY, WRONG)
    assert work == for_alice == [("hash", 64, 1, 1)]  # the harness's cheap parameters


# -- counting is a conditional write -----------------------------------------------------------


def test_a_burst_of_concurrent_wrong_passwords_is_counted_in_full(h, monkeypatch):
    h.sign_up(ALICE)
    race = WorstInterleaving(monkeypatch, 9, "record_wrong_password")
    replies = race.run(*(lambda: h.sign_in(ALICE, WRONG) for _ in range(9)))
    # All nine read a count of 0; each writer that finds another counted first reads again.
    assert Counter(answer(r) for r in replies) == Counter({(401, "invalid_credentials", None): 9})
    assert failures(h, ALICE) == 9
    assert answer(h.sign_in(ALICE, WRONG)) == (429, "too_many_attempts", "60")


def test_a_burst_past_the_tenth_is_refused_once_the_pause_begins(h, monkeypatch):
    h.sign_up(ALICE)
    race = WorstInterleaving(monkeypatch, 12, "record_wrong_password")
    replies = race.run(*(lambda: h.sign_in(ALICE, WRONG) for _ in range(12)))
    assert Counter(answer(r) for r in replies) == Counter(
        {(401, "invalid_credentials", None): 9, (429, "too_many_attempts", "60"): 3}
    )
    assert failures(h, ALICE) == 10
    assert h.drain() == {"password_pause_notices": 1}


def test_a_right_password_racing_the_start_of_a_pause_is_refused(h, monkeypatch):
    h.sign_up(ALICE)
    wrong_passwords(h, ALICE, 9)
    race = WorstInterleaving(monkeypatch, 2, "record_wrong_password", "put_token")
    replies = race.run(lambda: h.sign_in(ALICE, WRONG), lambda: h.sign_in(ALICE))
    # The wrong one starts the pause first; the right one must not sign in past it.
    assert [answer(r) for r in replies] == [(429, "too_many_attempts", "60")] * 2
    assert failures(h, ALICE) == 10
    assert not [i for i in h.table_items() if i["pk"]["S"].startswith("TOKEN#")]


def test_a_counting_write_retried_after_a_timeout_counts_once(h):
    from tests.test_idempotency import retried_after_commit

    h.sign_up(ALICE)
    with retried_after_commit("UpdateItem") as replays:
        assert wrong_passwords(h, ALICE, 3) == [(401, "invalid_credentials", None)] * 3
    assert replays["UpdateItem"] == 3
    assert failures(h, ALICE) == 3


def test_a_counting_write_that_fails_is_a_503_and_counts_nothing(h):
    from tests.test_faults import THROTTLED, Fault, expect_unavailable

    h.sign_up(ALICE)
    wrong_passwords(h, ALICE, 2)
    fault = Fault(THROTTLED[0], "UpdateItem", *THROTTLED[1:])
    expect_unavailable(h.sign_in(ALICE, WRONG))
    expect_unavailable(h.sign_in(NOBODY, WRONG))
    fault.remove()
    assert failures(h, ALICE) == 2 and counter_item(h, NOBODY) is None


# -- scrypt hashes become Argon2id ---------------------------------------------------------------


def stored_hash(h: Harness, email: str) -> str:
    [profile] = [i for i in h.table_items() if i["sk"]["S"] == "PROFILE" and i["email"]["S"] == email]
    return profile["password_hash"]["S"]


def give_scrypt_hash(h: Harness, email: str) -> str:
    """Alice's hash as the scrypt code before Argon2id left it."""
    from tests.test_rules import _scrypt_hash

    [profile] = [i for i in h.table_items() if i["sk"]["S"] == "PROFILE" and i["email"]["S"] == email]
    old = _scrypt_hash(PASSWORD, n=2**10)
    stack.client("dynamodb").update_item(
        TableName=os.environ["AEGIS_TABLE_NAME"],
        Key={"pk": profile["pk"], "sk": profile["sk"]},
        UpdateExpression="SET password_hash = :old",
        ExpressionAttributeValues={":old": {"S": old}},
    )
    return old


def test_a_scrypt_hash_is_upgraded_at_the_next_right_password_in_the_same_request(h):
    h.user_with_two_factor(ALICE)
    old = give_scrypt_hash(h, ALICE)
    assert answer(h.sign_in(ALICE, WRONG)) == (401, "invalid_credentials", None)
    assert stored_hash(h, ALICE) == old  # a wrong password upgrades nothing
    wrong_passwords(h, ALICE, 1)
    counter = RequestCounter()
    with counter.measure() as calls:
        assert h.sign_in(ALICE).body["status"] == "two_factor_required"
    assert stored_hash(h, ALICE).startswith("$argon2id$v=19$m=64,t=1,p=1$")
    # the token, the count cleared and the new hash: one transaction
    assert calls["dynamodb.TransactWriteItems"] == 1 and calls["dynamodb"] == 3
    assert failures(h, ALICE) == 0
    assert h.sign_in_with_code(ALICE, h.secrets[ALICE]).status == 200


def test_two_right_passwords_at_once_on_a_scrypt_hash_both_sign_in(h, monkeypatch):
    h.sign_up(ALICE)
    give_scrypt_hash(h, ALICE)
    race = WorstInterleaving(monkeypatch, 2, "put_token")
    replies = race.run(lambda: h.sign_in(ALICE), lambda: h.sign_in(ALICE))
    assert [r.body["status"] for r in replies] == ["signed_in", "signed_in"]
    assert stored_hash(h, ALICE).startswith("$argon2id$")


# -- Argon2id fits the API function ---------------------------------------------------------------


def test_the_api_functions_memory_holds_its_process_and_a_hash_at_the_production_parameters():
    import json

    from scripts.bench import ROOT, password_hash_cost

    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    memory_mb = config["lambda_functions"]["api_handler"]["lambda_memory_size"]
    cost = password_hash_cost(runs=1)
    assert cost["parameters"] == [19456, 2, 1]  # chalicelib/config.py's defaults; no stage overrides them
    assert cost["mib"] >= 19  # Argon2id really takes its memory
    # Half the function's memory at most: room for responses, SDK retries and a warm process's growth.
    assert cost["process_peak_mib"] <= memory_mb / 2
