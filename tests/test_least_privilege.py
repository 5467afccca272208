"""Least privilege, measured: each Lambda function's policy allows exactly what its requests
needed while the whole test suite ran, and the suite reached every line of the code that
makes an AWS request.

How it works (devkit/aws_calls.py): while the tests run, every request of a botocore client is
recorded under the Lambda function being invoked, found by the entry point the request runs
under (`app.app`, or the handler of `enforcement_sweep` or `queue_worker`), never by reading
the code. Each request becomes the IAM permissions it needs: TransactWriteItems becomes the
action of each of its items (PutItem, UpdateItem, DeleteItem, ConditionCheckItem), a Query
on the deadline index is allowed on the index, SendMessageBatch is sqs:SendMessage, and an
email sent with a configuration set needs the set as well as the sender's identity. To that
come the needs of the Lambda runtime, which the code never calls: its own log group, X-Ray
(tracing is active) and, for the worker, reading its SQS trigger's queue.

Why a reviewer can trust it: the record is what the functions did, through the same handlers
Lambda invokes, in every flow the suite drives (the API through `h.post(...)` and the pages
under `chalice local`, the hourly function through `h.hourly()`, the worker through `h.drain()`
and `h.deliver()`, with the faults of tests/test_faults.py and tests/test_notices.py such as a
notice claim released when SES fails). And a parse of chalicelib lists every call that makes
a request; each must appear in the record, so a path no test takes fails here instead of
passing unchecked. The comparison therefore runs last, and only when the whole suite runs
(tests/conftest.py); `make test` always does.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from devkit.aws_calls import OPERATOR, Record, Recorder, call_sites, dynamodb_refusal, permissions_for
from devkit.harness import Harness

ROOT = Path(__file__).resolve().parents[1]
CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text())
TEMPLATE = json.loads((ROOT / "infra" / "template.json").read_text())
FUNCTIONS = {"api_handler": "APIHandler", "enforcement_sweep": "EnforcementSweep", "queue_worker": "QueueWorker"}
SQS_TRIGGER = {("sqs:ReceiveMessage", "queue"), ("sqs:DeleteMessage", "queue"), ("sqs:GetQueueAttributes", "queue")}
TRACING = {("xray:PutTraceSegments", "*"), ("xray:PutTelemetryRecords", "*")}
# README, "First steps after the first deploy": what the operator's credentials must allow.
OPERATOR_NEEDS = {("dynamodb:GetItem", "table"), ("dynamodb:UpdateItem", "table"), ("dynamodb:PutItem", "table")}


def policy(function: str) -> list[dict[str, Any]]:
    document = json.loads((ROOT / ".chalice" / CONFIG["lambda_functions"][function]["iam_policy_file"]).read_text())
    statements: list[dict[str, Any]] = document["Statement"]
    return statements


def resource(expression: Any) -> str:
    """What a policy's resource names, in the record's terms."""
    if expression == "*":
        return "*"
    text = json.dumps(expression)
    for pattern, name in [
        (r"Table\.Arn}/index/([a-z-]+)", r"index/\1"),
        (r'"Table", "Arn"', "table"),
        (r'"WorkQueue", "Arn"', "queue"),
        (r":identity/", "identity"),
        (r":configuration-set/\$\{EmailConfigurationSet}", "configuration-set"),
        (r'"(\w+LogGroup)", "Arn"', r"\1"),
    ]:
        found = re.search(pattern, text)
        if found:
            return found.expand(name)
    raise AssertionError(f"a resource the check does not know: {text}")


def granted(function: str) -> set[tuple[str, str]]:
    allowed = set()
    for statement in policy(function):
        assert statement["Effect"] == "Allow"
        assert "Condition" not in statement or statement["Action"] == ["ses:SendEmail"], statement["Sid"]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        allowed |= {(action, resource(r)) for action in statement["Action"] for r in resources}
    return allowed


def runtime_needs(function: str) -> set[tuple[str, str]]:
    """What Lambda does for the function: write its logs, send its traces, poll its queue."""
    group = f"{FUNCTIONS[function]}LogGroup"
    needs = {("logs:CreateLogStream", group), ("logs:PutLogEvents", group)}
    if CONFIG.get("xray"):
        needs |= TRACING
    if function == "queue_worker":
        needs |= SQS_TRIGGER
    return needs


def key_users() -> dict[str, set[str]]:
    """KMS actions the key policy grants, by the role it names."""
    key = TEMPLATE["Resources"]["Key"]["Properties"]["KeyPolicy"]
    users: dict[str, set[str]] = {}
    for statement in key["Statement"]:
        principal = statement["Principal"]["AWS"]
        if isinstance(principal, dict) and "Fn::GetAtt" in principal:
            users[principal["Fn::GetAtt"][0]] = set(statement["Action"])
    return users


def describe(record: Record, function: str, permissions: set[tuple[str, str]]) -> str:
    lines = []
    for permission in sorted(permissions):
        sites = sorted(f"{s.path}:{s.first}" for s in record.needs.get(function, {}).get(permission, set()))
        lines.append(f"  {permission}: {', '.join(sites[:3]) or 'the Lambda runtime'}")
    return "\n".join(lines)


def mismatch(record: Record, function: str) -> str:
    """How the function's policy differs from what its requests needed; empty if it does not."""
    expected = {p for p in record.permissions(function) if not p[0].startswith("kms:")} | runtime_needs(function)
    allowed = granted(function)
    if allowed == expected:
        return ""
    return (
        f"{function}: allowed but never needed:\n{describe(record, function, allowed - expected)}\n"
        f"needed but not allowed:\n{describe(record, function, expected - allowed)}"
    )


# -- the comparison, over the whole suite ----------------------------------------------------------------


def test_each_function_may_do_exactly_what_it_did_in_the_tests(aws_calls: Record) -> None:
    assert not aws_calls.unknown_sites, (
        f"requests from lines devkit.aws_calls.call_sites() misses: {aws_calls.unknown_sites}"
    )
    unreached = [f"{s.path}:{s.first} {s.text}" for s in call_sites() if s not in aws_calls.reached()]
    assert not unreached, "no test makes these requests, so no policy is checked against them:\n" + "\n".join(unreached)

    for function in FUNCTIONS:
        assert not mismatch(aws_calls, function), mismatch(aws_calls, function)
    # KMS: the key's own policy grants the API function exactly what it used; nobody else uses it.
    used = {action for action, _ in aws_calls.permissions("api_handler") if action.startswith("kms:")}
    assert key_users() == {"ApiHandlerRole": used}
    for function in ("enforcement_sweep", "queue_worker"):
        assert not {p for p in aws_calls.permissions(function) if p[0].startswith("kms:")}, function
    # The operator command needs only what README tells the operator's credentials to allow.
    assert aws_calls.permissions(OPERATOR) == OPERATOR_NEEDS


# -- the parts it is made of ----------------------------------------------------------------------------


def test_requests_become_the_permissions_iam_checks() -> None:
    transaction = {"TransactItems": [{"Put": {}}, {"Update": {}}, {"ConditionCheck": {}}, {"Update": {}}]}
    assert permissions_for("dynamodb", "TransactWriteItems", transaction) == {
        ("dynamodb:PutItem", "table"),
        ("dynamodb:UpdateItem", "table"),
        ("dynamodb:ConditionCheckItem", "table"),
    }
    assert permissions_for("dynamodb", "Query", {"IndexName": "deadline-index"}) == {
        ("dynamodb:Query", "index/deadline-index")
    }
    assert permissions_for("dynamodb", "Query", {}) == {("dynamodb:Query", "table")}
    assert permissions_for("sqs", "SendMessageBatch", {}) == {("sqs:SendMessage", "queue")}
    assert permissions_for("ses", "SendEmail", {"ConfigurationSetName": "aegis"}) == {
        ("ses:SendEmail", "identity"),
        ("ses:SendEmail", "configuration-set"),
    }
    assert permissions_for("kms", "Decrypt", {}) == {("kms:Decrypt", "key")}


def test_the_record_is_by_the_function_invoked_and_the_line_that_asked() -> None:
    recorder = Recorder()
    recorder.install()  # on top of the suite's own, for this test alone
    try:
        with Harness() as h:
            h.sign_up("alice@example.com")
            token = h.session("alice@example.com")
            h.post("/v1/me/two-factor/enrollment", token=token)
            h.hourly()
            h.deliver({"kind": "reset", "user_id": "00000000-0000-4000-8000-000000000000"})
    finally:
        recorder.uninstall()
    record = recorder.record
    assert set(record.needs) == {"api_handler", "enforcement_sweep", "queue_worker"}, "the harness is not recorded"
    assert ("kms:GenerateDataKey", "key") in record.permissions("api_handler")
    assert record.permissions("enforcement_sweep") == {("dynamodb:Query", "index/deadline-index")}
    [(permission, sites)] = record.needs["queue_worker"].items()
    assert permission == ("dynamodb:Query", "table")
    assert {site.path for site in sites} == {"chalicelib/storage/users.py"}


def test_every_line_that_makes_a_request_is_found_in_the_code() -> None:
    found = {(site.path, site.text) for site in call_sites()}
    assert ("chalicelib/mailer.py", "self._ses().send_email(") in found
    assert ("chalicelib/cipher.py", "self._kms().decrypt(") in found
    assert ("chalicelib/queue.py", "aws.call(") in found
    assert ("chalicelib/storage/users.py", "self._table.get(*email_key(email))") in found
    storage = [
        path for path in (ROOT / "chalicelib" / "storage").glob("*.py") if path.name not in ("__init__.py", "table.py")
    ]
    assert {site.path for site in call_sites()} >= {f"chalicelib/storage/{path.name}" for path in storage}


@pytest.mark.parametrize(
    ("request_", "refused"),
    [
        ({"TransactItems": [{"Put": {"Item": {"pk": {"S": "A"}, "sk": {"S": "B"}}}}]}, False),
        (
            {
                "TransactItems": [
                    {
                        "Update": {
                            "Key": {"pk": {"S": "A"}, "sk": {"S": "B"}},
                            "UpdateExpression": "SET x = :x",
                            "ExpressionAttributeValues": {":x": {"N": "1"}},
                        }
                    },
                    {
                        "ConditionCheck": {
                            "Key": {"pk": {"S": "A"}, "sk": {"S": "B"}},
                            "ConditionExpression": "y = :y",
                            "ExpressionAttributeValues": {":y": {"N": "1"}},
                        }
                    },
                ]
            },
            True,
        ),
        (
            {
                "TransactItems": [
                    {
                        "Update": {
                            "Key": {"pk": {"S": "A"}, "sk": {"S": "B"}},
                            "UpdateExpression": "ADD n :n",
                            "ConditionExpression": "attribute_exists(pk)",
                            "ExpressionAttributeValues": {":n": {"N": "1"}, ":one": {"N": "1"}},
                        }
                    }
                ]
            },
            True,
        ),
        (
            {
                "TransactItems": [
                    {
                        "Update": {
                            "Key": {"pk": {"S": "A"}, "sk": {"S": "B"}},
                            "UpdateExpression": "ADD n :n",
                            "ConditionExpression": "n > :n1",
                            "ExpressionAttributeValues": {":n": {"N": "1"}, ":n1": {"N": "1"}},
                        }
                    }
                ]
            },
            False,
        ),
    ],
)
def test_dynamodb_refusals_that_moto_lets_through_are_refused_in_the_tests(request_: Any, refused: bool) -> None:
    assert (dynamodb_refusal("TransactWriteItems", request_) is not None) == refused


def test_the_comparison_sees_a_permission_too_many_and_one_too_few() -> None:
    """The hourly function's policy against records of what it needs, one with a request it
    never makes and one without a request it does make."""
    site = call_sites()[0]
    needs = {("dynamodb:Query", "index/deadline-index"), ("dynamodb:UpdateItem", "table"), ("sqs:SendMessage", "queue")}
    exact = Record()
    exact.add("enforcement_sweep", needs, {site})
    assert mismatch(exact, "enforcement_sweep") == ""
    more = Record()
    more.add("enforcement_sweep", needs | {("ses:SendEmail", "identity")}, {site})
    assert "needed but not allowed:\n  ('ses:SendEmail', 'identity')" in mismatch(more, "enforcement_sweep")
    fewer = Record()
    fewer.add("enforcement_sweep", needs - {("dynamodb:UpdateItem", "table")}, {site})
    assert "allowed but never needed:\n  ('dynamodb:UpdateItem', 'table')" in mismatch(fewer, "enforcement_sweep")
