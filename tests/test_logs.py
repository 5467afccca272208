"""Logs never carry a secret: every record, at DEBUG, through full flows and their failures, as
Python hands them to any handler and as the JSON lines the functions write on Lambda; those
lines name the request, route and user, metrics are counted, and the log-based alarm matches."""

import base64
import io
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from chalice.local import LambdaContext

from chalicelib import aws, observability
from devkit.harness import PASSWORD, Harness

VERIFY = "/v1/sessions/verify"
ENROLL = "/v1/me/two-factor/enrollment"
CONFIRM = "/v1/me/two-factor/enrollment/confirm"
SDK_LOGGERS = ("botocore", "boto3", "urllib3")


@dataclass
class Seen:
    """Everything secret the flows handled."""

    secrets: list[str] = field(default_factory=list)
    codes: set[str] = field(default_factory=set)
    backup_codes: list[str] = field(default_factory=list)
    passwords: list[str] = field(default_factory=lambda: [PASSWORD])
    tokens: list[str] = field(default_factory=list)
    data_keys: list[bytes] = field(default_factory=list)

    def texts(self, with_data_keys):
        yield from self.secrets
        yield from self.passwords
        for code in self.backup_codes:
            yield from (code, code.replace("-", ""), code.lower())
        for token in self.tokens:
            yield from (token, token.split(".")[1])
        if with_data_keys:
            for key in self.data_keys:
                yield from (base64.b64encode(key).decode(), key.hex(), repr(key)[2:-1])


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def logs():
    root = logging.getLogger()
    handler, level = Collect(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler.records
    root.removeHandler(handler)
    root.setLevel(level)


def rendered(record):
    """The record as any handler could write it: message, arguments, exception."""
    parts = [logging.Formatter().format(record), str(record.msg), repr(record.args)]
    return "\n".join(parts)


def check(records, seen, with_data_keys):
    assert records, "nothing was logged: the capture is broken"
    needles = list(seen.texts(with_data_keys))
    code_pattern = re.compile("|".join(rf"(?<!\d){c}(?!\d)" for c in seen.codes))
    for record in records:
        text = rendered(record)
        for needle in needles:
            assert needle not in text, (record.name, needle, text[:500])
        assert not code_pattern.search(text), (record.name, text[:500])


def full_flows(h, seen):
    """Sign-up to disable, with the failures along the way."""

    def code(offset=0):
        value = h.code(secret, offset)
        seen.codes.add(value)
        return value

    def keep(reply, *names):
        for name in names:
            seen.tokens.append(reply.body[name])
        return reply

    def record_keys(parsed, **kwargs):
        if "Plaintext" in parsed:
            seen.data_keys.append(parsed["Plaintext"])

    aws.client("kms").meta.events.register("after-call.kms", record_keys)

    h.sign_up("alice@example.com")
    h.post("/v1/users", {"email": "alice@example.com", "password": PASSWORD})  # 409
    h.post("/v1/users", {"email": "x@example.com", "password": PASSWORD, "admin": True})  # unknown field
    h.post("/v1/users", raw='{"email": "x@example.com", "password": "' + PASSWORD + '"')  # malformed
    for _ in range(10):  # into a password pause, its notice through the queue; and an unknown email
        h.sign_in("alice@example.com", "wrong " + PASSWORD)
        h.sign_in("nobody@example.com", PASSWORD)
    h.drain()
    h.clock.advance(60)
    session = keep(h.sign_in("alice@example.com"), "session_token").body["session_token"]
    seen.secrets.append(h.post(ENROLL, token=session).body["secret"])
    secret = h.post(ENROLL, token=session).body["secret"]
    seen.secrets.append(secret)
    h.post(CONFIRM, {"code": f"{(int(code()) + 1) % 1_000_000:06d}"}, token=session)  # wrong
    confirmed = h.post(CONFIRM, {"code": code()}, token=session)
    assert confirmed.status == 200
    seen.backup_codes += confirmed.body["backup_codes"]
    h.clock.advance(30)

    challenge = keep(h.sign_in("alice@example.com"), "challenge_token").body["challenge_token"]
    h.post(VERIFY, {"code": code(-30)}, token=challenge)  # the confirming step: replayed
    keep(h.post(VERIFY, {"code": code()}, token=challenge), "session_token")
    h.post(VERIFY, {"code": code()}, token=challenge)  # used challenge
    challenge = keep(h.sign_in("alice@example.com"), "challenge_token").body["challenge_token"]
    used = seen.backup_codes[0]
    keep(h.post(VERIFY, {"backup_code": used.lower()}, token=challenge), "session_token")
    h.get("/v1/me/security", token=session[:-2] + "xx")  # unknown token
    h.post(VERIFY, {"code": code()}, token=session)  # wrong kind of token

    h.clock.advance(30)
    regenerated = h.post("/v1/me/two-factor/backup-codes", {"code": code()}, token=session)
    seen.backup_codes += regenerated.body["backup_codes"]
    for _ in range(6):  # into the lockout, with its email
        challenge = keep(h.sign_in("alice@example.com"), "challenge_token").body["challenge_token"]
        h.post(VERIFY, {"backup_code": used}, token=challenge)
    h.clock.advance(60)

    # AWS failing: KMS during verify, SES during disable.
    from botocore.exceptions import ClientError

    def kms_down(**kwargs):
        raise ClientError({"Error": {"Code": "KMSInternalException", "Message": "down"}}, "Decrypt")

    def ses_down(**kwargs):
        raise ClientError({"Error": {"Code": "Throttling", "Message": "slow down"}}, "SendEmail")

    aws.client("kms").meta.events.register("before-call.kms.Decrypt", kms_down)
    h.post(VERIFY, {"code": code()}, token=challenge)
    aws.client("kms").meta.events.unregister("before-call.kms.Decrypt", kms_down)
    aws.client("ses").meta.events.register("before-call.ses.SendEmail", ses_down)
    disabled = h.post("/v1/me/two-factor/disable", {"backup_code": seen.backup_codes[9]}, token=session)
    assert disabled.status == 200, disabled
    h.delete("/v1/sessions/current", token=session)
    assert seen.data_keys and len(seen.codes) >= 4 and len(seen.backup_codes) == 16


def test_nothing_secret_is_logged_at_debug(logs):
    """As deployed: the root logger at DEBUG (the app keeps the SDK's body logging off)."""
    seen = Seen()
    with Harness(seed="logs") as h:
        full_flows(h, seen)
    assert any(r.name.startswith("chalicelib") for r in logs)
    assert any(r.levelno == logging.DEBUG for r in logs)
    check(logs, seen, with_data_keys=True)


def test_nothing_secret_is_logged_even_with_the_sdk_logging_bodies(logs):
    """The SDK's own DEBUG logging of every request and response, forced on, sees only
    hashes and ciphertexts: the secrets never leave the process."""
    seen = Seen()
    with Harness(seed="logs-sdk") as h:
        for service in ("dynamodb", "kms", "ses"):
            aws.client(service)  # pins the SDK loggers at INFO; then force them down
        levels = {name: logging.getLogger(name).level for name in SDK_LOGGERS}
        for name in SDK_LOGGERS:
            logging.getLogger(name).setLevel(logging.DEBUG)
        try:
            full_flows(h, seen)
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)
    assert any(r.name.startswith("botocore") and r.levelno == logging.DEBUG for r in logs)
    check(logs, seen, with_data_keys=False)


def test_the_log_check_would_see_a_leak(logs):
    seen = Seen(secrets=["JBSWY3DPEHPK3PXP"], codes={"123456"})
    logging.getLogger("chalicelib.example").debug("checking code %s", "123456")
    with pytest.raises(AssertionError):
        check(logs, seen, with_data_keys=True)
    logs.clear()
    logging.getLogger("chalicelib.example").debug("state %s", json.dumps({"s": "JBSWY3DPEHPK3PXP"}))
    with pytest.raises(AssertionError):
        check(logs, seen, with_data_keys=True)


# -- on Lambda: JSON lines and metrics through Powertools (chalicelib.observability) --------------------


@pytest.fixture
def json_logs(monkeypatch):
    """Logs and metrics as on Lambda: every record a JSON line in the returned stream, at DEBUG."""
    monkeypatch.setenv("AEGIS_METRICS_NAMESPACE", "aegis-2fa/test")
    stream = io.StringIO()
    observability.enable(stream, level=logging.DEBUG)
    yield stream
    observability.disable()


def lines(stream):
    parsed = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert parsed, "nothing was logged: the capture is broken"
    return parsed


def test_nothing_secret_is_in_the_json_lines_either(json_logs):
    seen = Seen()
    with Harness(seed="json-logs") as h:
        full_flows(h, seen)
    text = json_logs.getvalue()
    records = lines(json_logs)
    assert {"level", "location", "message", "timestamp", "service", "name"} <= set(records[0])
    assert {r["level"] for r in records} >= {"DEBUG", "WARNING"}
    needles = list(seen.texts(with_data_keys=True))
    for needle in needles:
        assert needle not in text, needle
    code_pattern = re.compile("|".join(rf"(?<!\d){c}(?!\d)" for c in seen.codes))
    for record in records:
        assert not code_pattern.search(record["message"] if isinstance(record["message"], str) else ""), record


def test_a_requests_lines_name_its_request_route_and_user(json_logs):
    with Harness(seed="json-keys") as h:
        h.sign_up("alice@example.com")
        session = h.session("alice@example.com")
        user_id = h.get("/v1/me/security", token=session).body["user_id"]

        def inside(**kwargs):
            logging.getLogger("chalicelib.example").info("a line inside the request")

        aws.client("kms").meta.events.register("before-call.kms.GenerateDataKey", inside)
        event = {
            "resource": "/v1/me/two-factor/enrollment",
            "path": "/v1/me/two-factor/enrollment",
            "httpMethod": "POST",
            "headers": {"authorization": f"Bearer {session}", "content-type": "application/json"},
            "multiValueHeaders": {},
            "queryStringParameters": None,
            "multiValueQueryStringParameters": None,
            "pathParameters": None,
            "stageVariables": None,
            "body": None,
            "isBase64Encoded": False,
            "requestContext": {
                "resourcePath": "/v1/me/two-factor/enrollment",
                "httpMethod": "POST",
                "requestId": "c0ffee00-0000-4000-8000-000000000001",
                "stage": "api",
                "identity": {"sourceIp": "203.0.113.9"},
            },
        }
        context = LambdaContext("aegis-2fa-prod-api", memory_size=1024)
        reply = h.app(event, context)
        aws.client("kms").meta.events.unregister("before-call.kms.GenerateDataKey", inside)
    assert reply["statusCode"] == 201
    [line] = [r for r in lines(json_logs) if r["message"] == "a line inside the request"]
    assert line["request_id"] == "c0ffee00-0000-4000-8000-000000000001"
    assert (line["method"], line["route"]) == ("POST", "/v1/me/two-factor/enrollment")
    assert line["user_id"] == user_id
    assert (line["function"], line["function_request_id"]) == ("aegis-2fa-prod-api", context.aws_request_id)
    assert (line["service"], line["name"], line["level"]) == ("aegis-2fa", "chalicelib.example", "INFO")


def test_the_sweep_problems_alarm_matches_the_sweeps_json_warnings(json_logs):
    """infra/template.json's SweepProblemsMetric counts the hourly function's warnings and errors."""
    from botocore.exceptions import ClientError

    from devkit.log_filters import matches

    template = json.loads((Path(__file__).resolve().parents[1] / "infra" / "template.json").read_text())
    pattern = template["Resources"]["SweepProblemsMetric"]["Properties"]["FilterPattern"]

    def sqs_down(**kwargs):
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "SendMessageBatch")

    with Harness(seed="sweep-warnings") as h:
        owner, _, _ = h.user_with_two_factor("owner@example.com")
        org_id = h.post("/v1/orgs", {"name": "Acme", "plan": "business"}, token=owner).body["org_id"]
        h.sign_up("member@example.com")
        h.join(org_id, owner, "member@example.com")
        aws.client("sqs").meta.events.register("before-call.sqs.SendMessageBatch", sqs_down)
        h.put(f"/v1/orgs/{org_id}/security", {"require_two_factor": True}, token=owner)
        json_logs.truncate(0)
        json_logs.seek(0)
        h.hourly()
    records = lines(json_logs)
    problems = [r for r in records if matches(pattern, r)]
    assert problems and all(r["level"] == "WARNING" for r in problems)
    assert any("stays due" in r["message"] for r in problems)
    quiet = [r for r in records if r["level"] in ("DEBUG", "INFO")]
    assert quiet and not any(matches(pattern, r) for r in quiet)
    assert all(matches(pattern, {**r, "level": "ERROR"}) for r in quiet)
