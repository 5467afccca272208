"""Claim B14: a 503 means nothing changed, and a request whose write timed out after it had
committed is neither half done nor done twice (DESIGN.md, "Idempotent writes").

The SDK is made to do what a timeout makes it do: send the very same request again after
the first attempt committed. DynamoDB would answer a transaction's retry from its
`ClientRequestToken`; moto does not, so these tests also prove the fallback, the marker
item each write leaves, that makes the retry answer as the first attempt would have.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from chalicelib import admin, aws
from devkit.harness import Harness

OWNER = "owner@example.com"
MEMBER = "member@example.com"
DYNAMODB_WRITES = ("TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem")


@contextmanager
def retried_after_commit(*operations: str) -> Iterator[Counter[str]]:
    """Every call of these DynamoDB operations is sent twice: the first attempt commits, then
    the SDK, as after a read timeout, sends the same request again. Counts the replays."""
    client = aws.client("dynamodb")
    replays: Counter[str] = Counter()
    tokens: dict[int, str] = {}

    def replay_once(attempts: int, response: Any, operation: Any, request_dict: dict[str, Any], **_: Any) -> Any:
        if attempts == 1 and response is not None and response[0].status_code == 200:
            replays[operation.name] += 1
            tokens[id(request_dict)] = request_dict["body"]
            return 0  # retry at once
        return None

    handlers = [(f"needs-retry.dynamodb.{op}", replay_once) for op in operations]
    for event, handler in handlers:
        client.meta.events.register(event, handler)
    try:
        yield replays
    finally:
        for event, handler in handlers:
            client.meta.events.unregister(event, handler)


def everything(h: Harness) -> dict[tuple[str, str], dict[str, Any]]:
    return {(i["pk"]["S"], i["sk"]["S"]): i for i in h.table_items()}


def test_every_transaction_carries_a_client_request_token(h):
    seen: list[str | None] = []
    client = aws.client("dynamodb")

    def capture(params: dict[str, Any], **_: Any) -> None:
        seen.append(params.get("ClientRequestToken"))

    client.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", capture)
    try:
        h.user_with_two_factor(OWNER)
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb.TransactWriteItems", capture)
    assert len(seen) >= 2
    assert all(token and len(token) == 36 for token in seen)
    assert len(set(seen)) == len(seen)  # one per logical write, not per attempt


def test_a_retried_flow_answers_as_without_retries_and_writes_once(h):
    """Sign-up, enrollment, sign-in with a code and a backup code, regenerating, an
    organization, joining, the policy, a support reset and disabling: each write is replayed
    once after it committed, and each request still answers as the first attempt did."""
    with retried_after_commit(*DYNAMODB_WRITES) as replays:
        owner, secret, codes = h.user_with_two_factor(OWNER)
        h.clock.advance(30)
        assert h.sign_in_with_code(OWNER, secret).status == 200
        challenge = h.sign_in(OWNER).body["challenge_token"]
        backup = h.post("/v1/sessions/verify", {"backup_code": codes[0]}, token=challenge)
        assert (backup.status, backup.body["backup_codes_remaining"]) == (200, 7)
        h.clock.advance(30)
        regenerated = h.post("/v1/me/two-factor/backup-codes", {"code": h.code(secret)}, token=owner)
        assert regenerated.status == 200
        org = h.post("/v1/orgs", {"name": "Acme", "plan": "business"}, token=owner)
        assert org.status == 201
        org_id = org.body["org_id"]
        member, member_secret, _ = h.user_with_two_factor(MEMBER)
        assert h.join(org_id, owner, MEMBER, session=member).status == 200
        assert h.put(f"/v1/orgs/{org_id}/security", {"require_two_factor": True}, token=owner).status == 200
        h.sign_up("support@example.com")
        admin.grant_support("support@example.com")
        support = h.session("support@example.com")
        user_id = h.get("/v1/me/security", token=member).body["user_id"]
        reset = h.post(
            f"/v1/support/users/{user_id}/two-factor-reset",
            {"verification_reference": "ticket 1", "reason": "lost phone"},
            token=support,
        )
        assert reset.status == 202
        assert h.delete("/v1/me/two-factor/reset", token=member).status == 200
        assert h.put(f"/v1/orgs/{org_id}/security", {"require_two_factor": False}, token=owner).status == 200
        h.clock.advance(30)
        assert h.post("/v1/me/two-factor/disable", {"code": h.code(member_secret)}, token=member).status == 200
    assert replays["TransactWriteItems"] >= 12

    # Written once: one organization, one membership each, one audit event of each action.
    items = everything(h)
    assert len([k for k in items if k[1] == "ORG"]) == 1
    assert len([k for k in items if k[0] == f"ORG#{org_id}" and k[1].startswith("MEMBER#")]) == 2
    kinds = Counter(i["kind"]["S"] for i in items.values() if "kind" in i and i["pk"]["S"].startswith("AUDIT#"))
    for kind in (
        "two_factor_enabled",
        "signed_in",
        "signed_in_with_backup_code",
        "backup_codes_regenerated",
        "member_invited",
        "invitation_accepted",
        "enforcement_started",
        "enforcement_stopped",
        "support_reset_requested",
        "support_reset_cancelled",
        "support_role_granted",
        "two_factor_disabled",
    ):
        assert kinds[kind] == (2 if kind == "two_factor_enabled" else 1), kind
    # The backup codes shown are the ones that work.
    challenge = h.sign_in(OWNER).body["challenge_token"]
    assert (
        h.post("/v1/sessions/verify", {"backup_code": regenerated.body["backup_codes"][0]}, token=challenge).status
        == 200
    )


def test_a_retried_failure_count_counts_once(h):
    _, secret, _ = h.user_with_two_factor(OWNER)
    wrong = f"{(int(h.code(secret)) + 1) % 1_000_000:06d}"
    with retried_after_commit("UpdateItem") as replays:
        for _ in range(3):
            challenge = h.sign_in(OWNER).body["challenge_token"]
            assert h.post("/v1/sessions/verify", {"code": wrong}, token=challenge).status == 401
    assert replays["UpdateItem"] == 3
    [profile] = [i for k, i in everything(h).items() if k[1] == "PROFILE"]
    assert profile["failures"] == {"N": "3"}


def test_a_retried_notice_claim_still_sends_the_notice(h):
    owner, _, _ = h.user_with_two_factor(OWNER)
    org_id = h.post("/v1/orgs", {"name": "Acme", "plan": "business"}, token=owner).body["org_id"]
    h.sign_up(MEMBER)
    assert h.join(org_id, owner, MEMBER).status == 200
    h.put(f"/v1/orgs/{org_id}/security", {"require_two_factor": True}, token=owner)
    with retried_after_commit("PutItem") as replays:
        assert h.drain()["notices_sent"] == 1
    assert replays["PutItem"] == 1
    assert [e["subject"] for e in h.emails(MEMBER)][1:] == ["Acme requires two-factor authentication"]


def test_a_commit_whose_retries_all_fail_is_a_success_not_a_503(h):
    """The first attempt commits; the SDK's two retries are throttled. Without the marker this
    would be a 503 for an account that exists."""
    client = aws.client("dynamodb")
    attempts = Counter()

    def replay(attempts: int, response: Any, **_: Any) -> Any:
        return 0 if attempts < 3 else None

    def throttle_after_first(params: dict[str, Any], model: Any, **_: Any) -> Any:
        attempts["calls"] += 1
        if attempts["calls"] == 1:
            return None
        return (
            _Response(400),
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
        )

    client.meta.events.register("needs-retry.dynamodb.TransactWriteItems", replay)
    client.meta.events.register_first("before-call.dynamodb.TransactWriteItems", throttle_after_first)
    try:
        reply = h.post("/v1/users", {"email": "new@example.com", "password": "correct horse battery staple"})
    finally:
        client.meta.events.unregister("needs-retry.dynamodb.TransactWriteItems", replay)
        client.meta.events.unregister("before-call.dynamodb.TransactWriteItems", throttle_after_first)
    assert reply.status == 201
    assert h.sign_in("new@example.com").body["status"] == "signed_in"


class _Response:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code
        self.headers: dict[str, str] = {}
        self.content = b""
        self.raw = None


# -- a failed condition never reaches a route as a 500 ---------------------------------------------


@contextmanager
def every_condition_fails() -> Iterator[Counter[str]]:
    """Every TransactWriteItems is cancelled with each of its parts' conditions failed, and
    every conditional single-item write fails its condition."""
    client = aws.client("dynamodb")
    refused: Counter[str] = Counter()

    def cancel(params: dict[str, Any], model: Any, **_: Any) -> Any:
        body = params["body"]
        if model.name == "TransactWriteItems":
            parts = len(_json(body)["TransactItems"])
            refused[model.name] += 1
            return (
                _Response(400),
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                    "CancellationReasons": [{"Code": "ConditionalCheckFailed"}] * parts,
                },
            )
        if "ConditionExpression" in _json(body):
            refused[model.name] += 1
            return (_Response(400), {"Error": {"Code": "ConditionalCheckFailedException", "Message": "no"}})
        return None

    for operation in DYNAMODB_WRITES:
        client.meta.events.register_first(f"before-call.dynamodb.{operation}", cancel)
    try:
        yield refused
    finally:
        for operation in DYNAMODB_WRITES:
            client.meta.events.unregister(f"before-call.dynamodb.{operation}", cancel)


def _json(body: Any) -> dict[str, Any]:
    import json

    return json.loads(body if isinstance(body, str | bytes) else b"{}")


def test_no_failed_condition_reaches_any_route_as_a_500(h):
    owner, secret, codes = h.user_with_two_factor(OWNER)
    org_id = h.post("/v1/orgs", {"name": "Acme", "plan": "business"}, token=owner).body["org_id"]
    h.clock.advance(16 * 60)  # the counts are stale: reading them asks for a recount
    owner = h.session_with_code(OWNER)
    h.sign_up(MEMBER)
    member = h.session(MEMBER)
    h.sign_up("support@example.com")
    admin.grant_support("support@example.com")
    support = h.session("support@example.com")
    owner_id = h.get("/v1/me/security", token=owner).body["user_id"]
    h.clock.advance(30)
    challenge = h.sign_in(OWNER).body["challenge_token"]
    h.sign_up("enrolling@example.com")
    enrolling = h.session("enrolling@example.com")
    pending_secret = h.post("/v1/me/two-factor/enrollment", token=enrolling).body["secret"]
    code = h.code(secret)

    requests = [
        ("POST", "/v1/users", {"email": "x@example.com", "password": "correct horse battery"}, None),
        ("POST", "/v1/sessions/verify", {"code": code}, challenge),
        ("POST", "/v1/sessions/verify", {"backup_code": codes[1]}, challenge),
        ("POST", "/v1/me/two-factor/enrollment", None, member),
        ("POST", "/v1/me/two-factor/enrollment/confirm", {"code": h.code(pending_secret)}, enrolling),
        ("POST", "/v1/me/two-factor/backup-codes", {"code": code}, owner),
        ("POST", "/v1/me/two-factor/disable", {"code": code}, owner),
        ("DELETE", "/v1/me/two-factor/reset", None, owner),
        ("POST", "/v1/orgs", {"name": "Beta", "plan": "team"}, owner),
        ("POST", f"/v1/orgs/{org_id}/invitations", {"email": MEMBER, "role": "member"}, owner),
        ("PUT", f"/v1/orgs/{org_id}/security", {"require_two_factor": True}, owner),
        ("GET", f"/v1/orgs/{org_id}/security", None, owner),
        (
            "POST",
            f"/v1/support/users/{owner_id}/two-factor-reset",
            {"verification_reference": "ticket", "reason": "lost"},
            support,
        ),
    ]
    with every_condition_fails() as refused:
        for method, path, body, token in requests:
            reply = h.request(method, path, body, token=token)
            assert 400 <= reply.status < 500 or reply.status == 503 or reply.status == 200, (path, reply)
            assert reply.status != 500
            assert set(reply.body or {"error": {}}) <= {"error"} or reply.status == 200, (path, reply)
    assert refused["TransactWriteItems"] >= 10
    assert refused["UpdateItem"] + refused["PutItem"] >= 2
    assert not [r for r in refused if refused[r] == 0]


@pytest.mark.parametrize("operation", ["TransactWriteItems"])
def test_the_worker_survives_failed_conditions(h, operation):
    owner, _, _ = h.user_with_two_factor(OWNER)
    org_id = h.post("/v1/orgs", {"name": "Acme", "plan": "business"}, token=owner).body["org_id"]
    h.sign_up(MEMBER)
    assert h.join(org_id, owner, MEMBER).status == 200
    h.put(f"/v1/orgs/{org_id}/security", {"require_two_factor": True}, token=owner)
    with every_condition_fails():
        assert h.drain().get("notices_sent", 0) == 0  # every claim refused: nothing sent, no error
    assert len(h.emails(MEMBER)) == 1  # the invitation: no notice
    del operation
