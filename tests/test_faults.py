"""AWS faults: throttled or failing DynamoDB and KMS become 503 with nothing changed.

The fault is a real error response, injected ahead of moto on the app's own client, so the
SDK parses it and retries it as it would in AWS (its sleeps are skipped to keep this fast).
"""

import io
import json

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError

from chalicelib import aws

ENROLL = "/v1/me/two-factor/enrollment"
CONFIRM = "/v1/me/two-factor/enrollment/confirm"
DISABLE = "/v1/me/two-factor/disable"
VERIFY = "/v1/sessions/verify"
MAX_ATTEMPTS = 3  # aws.client's retry configuration: three attempts in all


class _Raw(io.BytesIO):
    def stream(self, **kwargs):
        yield self.read()


class Fault:
    """Answers every call of one operation with an AWS error until removed."""

    def __init__(self, service, operation, status, error_type, extra=None, exception=None):
        self.service, self.operation = service, operation
        self.status, self.error_type, self.extra, self.exception = status, error_type, extra or {}, exception
        self.attempts = 0
        self._event = f"before-send.{service}.{operation}"
        aws.client(service).meta.events.register_first(self._event, self._answer)

    def _answer(self, request, **kwargs):
        self.attempts += 1
        if self.exception is not None:
            raise self.exception
        # botocore calls every before-send handler and uses the first answer, so moto would
        # still serve (and apply) the request: send it where moto serves nothing.
        request.url = "https://fault.invalid/"
        body = json.dumps({"__type": self.error_type, "message": "injected fault", **self.extra}).encode()
        headers = {"x-amzn-RequestId": "fault", "Content-Type": "application/x-amz-json-1.0"}
        return AWSResponse(request.url, self.status, headers, _Raw(body))

    def remove(self):
        aws.client(self.service).meta.events.unregister(self._event, self._answer)


@pytest.fixture(autouse=True)
def no_retry_sleep(monkeypatch):
    import botocore.endpoint

    monkeypatch.setattr(botocore.endpoint.time, "sleep", lambda seconds: None)


def snapshot(h):
    return sorted(h.table_items(), key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


def expect_unavailable(reply):
    assert reply.status == 503, reply
    assert reply.body == {"error": {"code": "temporarily_unavailable", "message": reply.body["error"]["message"]}}
    assert int(reply.headers["Retry-After"]) >= 1


THROTTLED = ("dynamodb", 400, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException")


def throttled_transaction():
    return Fault(*THROTTLED[:1], "TransactWriteItems", *THROTTLED[1:])


def pending_enrollment(h):
    h.sign_up("alice@example.com")
    token = h.session("alice@example.com")
    secret = h.post(ENROLL, token=token).body["secret"]
    return token, secret


# -- DynamoDB ----------------------------------------------------------------------------------


def test_throttled_confirm_changes_nothing(h):
    token, secret = pending_enrollment(h)
    other = h.session("alice@example.com")
    before = snapshot(h)
    fault = throttled_transaction()
    expect_unavailable(h.post(CONFIRM, {"code": h.code(secret)}, token=token))
    assert fault.attempts == MAX_ATTEMPTS  # the SDK retried before we gave up
    assert snapshot(h) == before
    fault.remove()
    assert h.emails("alice@example.com") == []
    # The same code still confirms, and only then are other sessions revoked.
    assert h.get("/v1/me/security", token=other).status == 200
    assert h.post(CONFIRM, {"code": h.code(secret)}, token=token).status == 200
    assert h.get("/v1/me/security", token=other).status == 401


def test_a_transaction_cancelled_by_throttling_is_unavailable_not_a_conflict(h):
    token, secret = pending_enrollment(h)
    before = snapshot(h)
    reasons = [{"Code": "None"}, {"Code": "ThrottlingError", "Message": "Throughput exceeds the current capacity."}]
    fault = Fault(
        "dynamodb",
        "TransactWriteItems",
        400,
        "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        {"CancellationReasons": reasons},
    )
    expect_unavailable(h.post(CONFIRM, {"code": h.code(secret)}, token=token))
    assert snapshot(h) == before
    fault.remove()
    assert h.post(CONFIRM, {"code": h.code(secret)}, token=token).status == 200


def test_throttled_disable_changes_nothing(h):
    token, secret, codes = h.user_with_two_factor("alice@example.com")
    before = snapshot(h)
    fault = throttled_transaction()
    expect_unavailable(h.post(DISABLE, {"code": h.code(secret)}, token=token))
    expect_unavailable(h.post(DISABLE, {"backup_code": codes[0]}, token=token))
    assert snapshot(h) == before
    fault.remove()
    assert h.get("/v1/me/security", token=token).body["two_factor"]["enabled"] is True
    assert [e["subject"] for e in h.emails("alice@example.com")] == ["Two-factor authentication is on"]
    assert h.post(DISABLE, {"backup_code": codes[0]}, token=token).status == 200


def test_throttled_sign_in_step_changes_nothing(h):
    _, secret, codes = h.user_with_two_factor("alice@example.com")
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    before = snapshot(h)
    fault = throttled_transaction()
    expect_unavailable(h.post(VERIFY, {"code": h.code(secret)}, token=challenge))
    expect_unavailable(h.post(VERIFY, {"backup_code": codes[0]}, token=challenge))
    assert snapshot(h) == before
    fault.remove()
    reply = h.post(VERIFY, {"backup_code": codes[0]}, token=challenge)
    assert reply.status == 200 and reply.body["backup_codes_remaining"] == 7


def test_throttled_failure_count_is_unavailable_and_counts_nothing(h):
    _, secret, _ = h.user_with_two_factor("alice@example.com")
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    before = snapshot(h)
    fault = Fault(*THROTTLED[:1], "UpdateItem", *THROTTLED[1:])
    wrong = f"{(int(h.code(secret)) + 1) % 1_000_000:06d}"
    expect_unavailable(h.post(VERIFY, {"code": wrong}, token=challenge))
    assert snapshot(h) == before
    fault.remove()


def test_throttled_reads_are_unavailable(h):
    token, secret, _ = h.user_with_two_factor("alice@example.com")
    for operation, request in [
        ("BatchGetItem", lambda: h.sign_in("alice@example.com")),
        ("Query", lambda: h.sign_in("alice@example.com")),
        ("BatchGetItem", lambda: h.get("/v1/me/security", token=token)),
    ]:
        fault = Fault(*THROTTLED[:1], operation, *THROTTLED[1:])
        expect_unavailable(request())
        fault.remove()
    assert h.sign_in_with_code("alice@example.com", secret).status == 200


def test_throttled_sign_up_creates_nothing(h):
    fault = throttled_transaction()
    expect_unavailable(h.post("/v1/users", {"email": "alice@example.com", "password": "correct horse"}))
    assert h.table_items() == []
    fault.remove()
    assert h.post("/v1/users", {"email": "alice@example.com", "password": "correct horse"}).status == 201


def test_unreachable_dynamodb_is_unavailable(h):
    token, secret = pending_enrollment(h)
    before = snapshot(h)
    fault = Fault(
        "dynamodb", "TransactWriteItems", 0, "", exception=EndpointConnectionError(endpoint_url="https://dynamodb")
    )
    expect_unavailable(h.post(CONFIRM, {"code": h.code(secret)}, token=token))
    assert fault.attempts == MAX_ATTEMPTS
    assert snapshot(h) == before


# -- KMS ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type"), [(400, "ThrottlingException"), (500, "KMSInternalException"), (400, "DisabledException")]
)
def test_kms_failure_during_enrollment_start_changes_nothing(h, status, error_type):
    h.sign_up("alice@example.com")
    token = h.session("alice@example.com")
    before = snapshot(h)
    fault = Fault("kms", "GenerateDataKey", status, error_type)
    expect_unavailable(h.post(ENROLL, token=token))
    assert snapshot(h) == before
    fault.remove()
    assert h.post(CONFIRM, {"code": "123456"}, token=token).status == 404  # no pending enrollment was stored
    assert h.post(ENROLL, token=token).status == 201


def test_kms_failure_during_enrollment_start_keeps_the_earlier_pending_secret(h):
    token, secret = pending_enrollment(h)
    before = snapshot(h)
    fault = Fault("kms", "GenerateDataKey", 500, "KMSInternalException")
    expect_unavailable(h.post(ENROLL, token=token))
    assert snapshot(h) == before
    fault.remove()
    assert h.post(CONFIRM, {"code": h.code(secret)}, token=token).status == 200


@pytest.mark.parametrize(("status", "error_type"), [(400, "ThrottlingException"), (500, "KMSInternalException")])
def test_kms_failure_during_verify_changes_nothing(h, status, error_type):
    _, secret, _ = h.user_with_two_factor("alice@example.com")
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    before = snapshot(h)
    fault = Fault("kms", "Decrypt", status, error_type)
    expect_unavailable(h.post(VERIFY, {"code": h.code(secret)}, token=challenge))
    assert fault.attempts == MAX_ATTEMPTS
    # Not a wrong code: nothing is counted, no lockout begins, however often it happens.
    for _ in range(6):
        expect_unavailable(h.post(VERIFY, {"code": h.code(secret)}, token=challenge))
    assert snapshot(h) == before
    fault.remove()
    assert h.post(VERIFY, {"code": h.code(secret)}, token=challenge).status == 200


def test_kms_failure_during_confirm_changes_nothing(h):
    token, secret = pending_enrollment(h)
    before = snapshot(h)
    fault = Fault("kms", "Decrypt", 500, "KMSInternalException")
    expect_unavailable(h.post(CONFIRM, {"code": h.code(secret)}, token=token))
    assert snapshot(h) == before
    fault.remove()
    assert h.post(CONFIRM, {"code": h.code(secret)}, token=token).status == 200


def test_aws_error_details_stay_out_of_the_answer_and_the_log(h, caplog):
    h.sign_up("alice@example.com")
    token = h.session("alice@example.com")
    fault = Fault("kms", "GenerateDataKey", 400, "ThrottlingException", {"message": "arn:aws:kms:secret-detail"})
    with caplog.at_level("WARNING"):
        reply = h.post(ENROLL, token=token)
    expect_unavailable(reply)
    assert "secret-detail" not in json.dumps(reply.body)
    warnings = [r.getMessage() for r in caplog.records if r.name == "chalicelib.aws"]
    assert warnings == ["AWS call kms.GenerateDataKey failed: ThrottlingException"]
    fault.remove()
