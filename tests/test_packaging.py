"""The CloudFormation stack that `make deploy` would create (issue 5), checked offline.

Once per deployable stage, `make package` writes the template and the Lambda zip to a
temporary folder. cfn-lint must accept the template, and the template must hold what a
real account needs: the table, the key, the schedule, alarms, and least-privilege IAM
wired to them by reference. Nothing here talks to AWS; `chalice package` downloads the
Lambda wheels from PyPI once and reuses them from .chalice/deployments/ afterwards.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

ROOT = Path(__file__).resolve().parents[1]
CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text())
# Every stage but `local` (moto) deploys to AWS.
DEPLOYABLE_STAGES = sorted(name for name in CONFIG["stages"] if name != "local")
FUNCTIONS = {"APIHandler": "api_handler", "EnforcementSweep": "enforcement_sweep", "QueueWorker": "queue_worker"}
ZIP_BUDGET_BYTES = 10 * 1024 * 1024
PSEUDO_PARAMETERS = {"AWS::AccountId", "AWS::Partition", "AWS::Region", "AWS::StackName", "AWS::URLSuffix"}
# The resources the functions' policies may name: the table (and its index), their own
# log groups, the work queue, and the sender's SES identity (built from the SenderEmail parameter).
PROJECT_RESOURCES = {
    "Table",
    "APIHandlerLogGroup",
    "EnforcementSweepLogGroup",
    "QueueWorkerLogGroup",
    "WorkQueue",
    "SenderEmail",
}
# KMS operations that use or hand out the key material.
KMS_CRYPTO_ACTIONS = [
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:CreateGrant",
]


class Package:
    def __init__(self, stage: str, folder: Path) -> None:
        self.stage = stage
        self.folder = folder
        self.template_path = folder / "sam.json"
        self.zip_path = folder / "deployment.zip"
        self.template: dict[str, Any] = json.loads(self.template_path.read_text())
        self.resources: dict[str, Any] = self.template["Resources"]

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {name: r for name, r in self.resources.items() if r["Type"] == resource_type}

    def properties(self, name: str) -> dict[str, Any]:
        props: dict[str, Any] = self.resources[name]["Properties"]
        return props


def make(*args: str) -> subprocess.CompletedProcess[str]:
    """Run a Makefile target with the tools of the Python running the tests, without
    letting make reinstall the virtualenv in the middle of a test run."""
    command = [
        shutil.which("make") or "make",
        "--no-print-directory",
        "-o",
        ".venv/.installed",
        f"BIN={Path(sys.executable).parent}",
        *args,
    ]
    # Not the variables of a `make test` that runs us: they would leak its flags into ours.
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    return subprocess.run(  # noqa: S603
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture(scope="module", params=DEPLOYABLE_STAGES)
def package(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Package:
    stage: str = request.param
    dist = tmp_path_factory.mktemp(f"dist-{stage}")
    result = make("package", f"STAGE={stage}", f"DIST={dist}")
    assert result.returncode == 0, f"make package STAGE={stage} failed:\n{result.stdout}\n{result.stderr}"
    return Package(stage, dist / stage)


def references(expression: Any) -> set[str]:
    """Logical ids and parameters that a CloudFormation expression refers to,
    pseudo parameters left out."""
    found: set[str] = set()
    if isinstance(expression, list):
        for item in expression:
            found |= references(item)
    elif isinstance(expression, dict):
        for function, argument in expression.items():
            if function == "Ref":
                found.add(argument)
            elif function == "Fn::GetAtt":
                found.add(argument[0] if isinstance(argument, list) else argument.split(".")[0])
            elif function == "Fn::Sub":
                text, local = (argument, {}) if isinstance(argument, str) else argument
                names = {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)}
                found |= (names - set(local)) | references(list(local.values()))
            else:
                found |= references(argument)
    return found - PSEUDO_PARAMETERS


def strings(expression: Any) -> Iterator[str]:
    if isinstance(expression, str):
        yield expression
    elif isinstance(expression, list):
        for item in expression:
            yield from strings(item)
    elif isinstance(expression, dict):
        for value in expression.values():
            yield from strings(value)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return as_list(document["Statement"])


def role_statements(package: Package) -> dict[str, list[dict[str, Any]]]:
    roles = package.of_type("AWS::IAM::Role")
    return {
        name: [s for policy in role["Properties"].get("Policies", []) for s in statements(policy["PolicyDocument"])]
        for name, role in roles.items()
    }


@functools.cache
def operations_called_by_the_code() -> dict[str, set[str]]:
    """The AWS operations that the Lambda code (app.py and chalicelib/) names, per service.

    An operation counts when it appears as "GetItem" / "dynamodb.GetItem", or is called on
    a lazily fetched client, `self._ses().send_email(`. A tripwire for policy drift, not a proof.
    """
    source = "\n".join(p.read_text() for p in [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))])
    session = botocore.session.get_session()
    called: dict[str, set[str]] = {}
    for service in ("dynamodb", "kms", "ses", "sqs"):
        model = session.get_service_model(service)
        called[service] = {
            name
            for name in model.operation_names
            if re.search(rf'[".]{name}"', source) or re.search(rf"\(\)\.{xform_name(name)}\(", source)
        }
    if "TransactWriteItems" in called["dynamodb"]:
        # IAM has no TransactWriteItems action: each item needs its own action.
        called["dynamodb"].discard("TransactWriteItems")
        kinds = set(re.findall(r'\{"(Put|Update|Delete|ConditionCheck)":', source))
        called["dynamodb"] |= {f"{kind}Item" for kind in kinds}
    if "TransactGetItems" in called["dynamodb"]:
        called["dynamodb"].discard("TransactGetItems")
        called["dynamodb"].add("GetItem")
    return called


# -- the template is valid -----------------------------------------------------------------


def test_cfn_lint_accepts_the_template(package: Package) -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(  # noqa: S603
        [str(cfn_lint), str(package.template_path)], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, f"cfn-lint found problems:\n{result.stdout}\n{result.stderr}"


def test_every_function_has_a_policy_file_of_its_own() -> None:
    assert "prod" in DEPLOYABLE_STAGES
    files = [CONFIG["lambda_functions"][name]["iam_policy_file"] for name in FUNCTIONS.values()]
    assert len(set(files)) == len(files)
    for name in files:
        assert (ROOT / ".chalice" / name).is_file()


# -- what the stack holds ------------------------------------------------------------------


def test_table_is_on_demand_with_ttl_recovery_encryption_protection_and_the_deadline_index(
    package: Package,
) -> None:
    [table] = package.of_type("AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert "TableName" not in props, "a generated name lets two stages share an account"
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]} == {
        "pk": "S",
        "sk": "S",
        "due_pk": "S",
        "due_sk": "S",
    }
    assert props["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"
    [index] = props["GlobalSecondaryIndexes"]
    assert index == {
        "IndexName": "deadline-index",
        "KeySchema": [
            {"AttributeName": "due_pk", "KeyType": "HASH"},
            {"AttributeName": "due_sk", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }


def test_key_rotates_and_only_the_api_function_may_use_it_and_only_for_totp(package: Package) -> None:
    [(name, key)] = package.of_type("AWS::KMS::Key").items()
    props = key["Properties"]
    assert props["EnableKeyRotation"] is True
    assert props.get("KeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT"
    assert key["DeletionPolicy"] == "Retain", "deleting the key would make every TOTP secret unreadable"
    [alias] = package.of_type("AWS::KMS::Alias").values()
    assert alias["Properties"]["TargetKeyId"] == {"Ref": name}

    users = []
    for statement in statements(props["KeyPolicy"]):
        assert statement["Effect"] == "Allow"
        assert statement.get("Principal") != "*" and "NotPrincipal" not in statement and "NotAction" not in statement
        actions = [a.lower() for a in as_list(statement["Action"])]
        if any(fnmatch.fnmatchcase(crypto.lower(), a) for a in actions for crypto in KMS_CRYPTO_ACTIONS):
            users.append(statement)
    [use] = users  # the account's administrators manage the key but cannot use it
    assert sorted(as_list(use["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert references(use["Principal"]) == {"ApiHandlerRole"}
    assert use["Condition"]["StringEquals"] == {"kms:EncryptionContext:purpose": "totp"}
    assert use["Condition"]["Null"] == {"kms:EncryptionContext:user_id": "false"}


def test_enforcement_sweep_runs_every_hour(package: Package) -> None:
    sweep = package.properties("EnforcementSweep")
    assert sweep["Handler"] == "app.enforcement_sweep"
    [event] = sweep["Events"].values()
    assert event == {"Type": "Schedule", "Properties": {"Schedule": "rate(1 hour)"}}


def test_functions_get_the_table_key_sender_and_queue_by_reference(package: Package) -> None:
    functions = package.of_type("AWS::Serverless::Function")
    assert set(functions) == set(FUNCTIONS)
    read_by_code = set(re.findall(r'"(AEGIS_[A-Z_]+)"', (ROOT / "chalicelib" / "config.py").read_text()))
    for name, function in functions.items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["AEGIS_TABLE_NAME"] == {"Ref": "Table"}, name
        assert variables["AEGIS_KMS_KEY_ID"] == {"Fn::GetAtt": ["Key", "Arn"]}, name
        assert variables["AEGIS_SENDER_EMAIL"] == {"Ref": "SenderEmail"}, name
        assert variables["AEGIS_QUEUE_URL"] == {"Ref": "WorkQueue"}, name
        assert set(variables) <= read_by_code, f"{name} sets variables the code never reads"


def test_logs_are_kept_for_a_bounded_time_in_groups_created_before_the_functions(package: Package) -> None:
    groups = package.of_type("AWS::Logs::LogGroup")
    for function in FUNCTIONS:
        group = groups[f"{function}LogGroup"]["Properties"]
        assert 1 <= group["RetentionInDays"] <= 400
        suffix = group["LogGroupName"]["Fn::Sub"].removeprefix("/aws/lambda/")
        assert package.properties(function)["FunctionName"] == {"Fn::Sub": suffix}


def test_alarms_watch_api_5xx_function_errors_throttles_and_the_sweep(package: Package) -> None:
    alarms = package.of_type("AWS::CloudWatch::Alarm").values()
    topics = package.of_type("AWS::SNS::Topic")
    [(topic, props)] = topics.items()
    assert props["Properties"]["Subscription"] == [{"Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}]

    watched = set()
    for alarm in alarms:
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": topic}]
        metrics = [m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m] or [props]
        for metric in metrics:
            dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
            namespace = metric["Namespace"] if isinstance(metric["Namespace"], str) else "custom"
            watched.add((namespace, metric["MetricName"], json.dumps(dimensions, sort_keys=True)))
    api_name = json.dumps({"ApiName": {"Ref": "AWS::StackName"}})
    api = json.dumps({"FunctionName": {"Ref": "APIHandler"}})
    sweep = json.dumps({"FunctionName": {"Ref": "EnforcementSweep"}})
    table = json.dumps({"TableName": {"Ref": "Table"}})
    assert ("AWS/ApiGateway", "5XXError", api_name) in watched
    assert ("AWS/Lambda", "Errors", api) in watched
    assert ("AWS/Lambda", "Errors", sweep) in watched
    assert ("AWS/Lambda", "Invocations", sweep) in watched, "a sweep that stops running"
    assert ("custom", "SweepProblems", "{}") in watched, "a sweep that runs but cannot send"
    assert ("AWS/DynamoDB", "ReadThrottleEvents", table) in watched
    assert ("AWS/DynamoDB", "WriteThrottleEvents", table) in watched
    dead_letters = json.dumps({"QueueName": {"Fn::GetAtt": ["WorkDeadLetterQueue", "QueueName"]}})
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", dead_letters) in watched
    work = json.dumps({"QueueName": {"Fn::GetAtt": ["WorkQueue", "QueueName"]}})
    assert ("AWS/SQS", "ApproximateAgeOfOldestMessage", work) in watched
    assert ("AWS/Lambda", "Errors", json.dumps({"FunctionName": {"Ref": "QueueWorker"}})) in watched
    # The API's name is the one the 5XXError metric carries.
    assert package.properties("RestAPI")["Name"] == {"Ref": "AWS::StackName"}


# -- least privilege -----------------------------------------------------------------------


def test_policies_have_no_wildcard_action_and_name_only_the_project_resources(package: Package) -> None:
    policies = role_statements(package)
    assert set(policies) == {"ApiHandlerRole", "EnforcementSweepRole", "QueueWorkerRole"}
    for role, role_policy in policies.items():
        assert role_policy, f"{role} has no policy"
        for statement in role_policy:
            where = f"{role} {statement.get('Sid')}"
            assert statement["Effect"] == "Allow", where
            assert {"NotAction", "NotResource"}.isdisjoint(statement), where
            for action in as_list(statement["Action"]):
                assert "*" not in action and "?" not in action, f"{where}: wildcard action {action}"
            for resource in as_list(statement["Resource"]):
                assert isinstance(resource, dict), f"{where}: hard-coded resource {resource}"
                assert not any("*" in s for s in strings(resource)), f"{where}: wildcard in {resource}"
                named = references(resource)
                assert named and named <= PROJECT_RESOURCES, f"{where}: names {named - PROJECT_RESOURCES}"
    managed = [r for r in package.resources.values() if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")]
    assert not managed, "every permission of the functions is in .chalice/policy-<stage>.json"
    for role in package.of_type("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]


def test_policies_allow_exactly_the_operations_the_code_calls(package: Package) -> None:
    called = operations_called_by_the_code()
    policies = role_statements(package)
    expected = {f"{service}:{op}" for service in ("dynamodb", "ses", "sqs") for op in called[service]}
    # SendMessageBatch is authorized as sqs:SendMessage; the worker's trigger needs three more.
    expected = {"sqs:SendMessage" if a == "sqs:SendMessageBatch" else a for a in expected}
    expected |= {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
    allowed_somewhere: set[str] = set()
    for role, role_policy in policies.items():
        allowed = {action for s in role_policy for action in as_list(s["Action"])}
        allowed_somewhere |= allowed
        assert {a for a in allowed if a.startswith("logs:")} == {"logs:CreateLogStream", "logs:PutLogEvents"}
        assert {a for a in allowed if not a.startswith("logs:")} <= expected, role
        index_statements = [s for s in role_policy if any("/index/" in text for text in strings(s["Resource"]))]
        assert [as_list(s["Action"]) for s in index_statements] in ([], [["dynamodb:Query"]]), role
        for send in [s for s in role_policy if "ses:SendEmail" in as_list(s["Action"])]:
            assert send["Condition"] == {"StringEquals": {"ses:FromAddress": {"Ref": "SenderEmail"}}}
    assert {a for a in allowed_somewhere if not a.startswith("logs:")} == expected
    key_policy = next(iter(package.of_type("AWS::KMS::Key").values()))["Properties"]["KeyPolicy"]
    [use] = [s for s in statements(key_policy) if "kms:Decrypt" in as_list(s["Action"])]
    assert {action.removeprefix("kms:") for action in as_list(use["Action"])} == called["kms"]


def test_each_function_may_do_only_its_own_part(package: Package) -> None:
    policies = {
        role: {action for s in statements for action in as_list(s["Action"])}
        for role, statements in role_statements(package).items()
    }
    queue_consumer = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
    assert queue_consumer <= policies["QueueWorkerRole"]
    assert not queue_consumer & (policies["ApiHandlerRole"] | policies["EnforcementSweepRole"])
    # The hourly function reads the deadline index and hands work over: no email, no secrets.
    assert policies["EnforcementSweepRole"] == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "sqs:SendMessage",
    }
    assert "ses:SendEmail" not in policies["EnforcementSweepRole"]
    for role, statements in role_statements(package).items():
        for statement in statements:
            if any(action.startswith("sqs:") for action in as_list(statement["Action"])):
                assert references(statement["Resource"]) == {"WorkQueue"}, role
            if any(action.startswith("logs:") for action in as_list(statement["Action"])):
                assert references(statement["Resource"]) == {
                    role.replace("Role", "LogGroup").replace("ApiHandler", "APIHandler")
                }


def test_the_work_queue_feeds_the_worker_and_sends_poison_to_a_dead_letter_queue(package: Package) -> None:
    queue = package.properties("WorkQueue")
    dead_letters = package.properties("WorkDeadLetterQueue")
    worker = package.properties("QueueWorker")
    assert worker["Handler"] == "app.queue_worker"
    [event] = worker["Events"].values()
    assert event["Type"] == "SQS"
    assert event["Properties"]["BatchSize"] == 1
    # The event source names the queue by ARN; the queue is named the same way.
    assert event["Properties"]["Queue"] == {
        "Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}-work"
    }
    assert queue["QueueName"] == {"Fn::Sub": "${AWS::StackName}-work"}
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["WorkDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 5,
    }
    assert queue["VisibilityTimeout"] >= 6 * worker["Timeout"], "AWS's advice for Lambda consumers"
    assert dead_letters["MessageRetentionPeriod"] == 14 * 86400
    assert queue["SqsManagedSseEnabled"] is True and dead_letters["SqsManagedSseEnabled"] is True
    assert worker["ReservedConcurrentExecutions"] == {"Ref": "WorkerConcurrency"}
    variables = worker["Environment"]["Variables"]
    assert variables["AEGIS_WORKER_CONCURRENCY"] == {"Ref": "WorkerConcurrency"}
    assert variables["AEGIS_SES_SENDS_PER_SECOND"] == {"Ref": "SesSendsPerSecond"}


# -- the package ---------------------------------------------------------------------------


def test_deployment_zip_is_under_10_mb(package: Package) -> None:
    size = package.zip_path.stat().st_size
    print(f"{package.stage} deployment.zip: {size / 1024 / 1024:.2f} MiB ({size} bytes)")
    assert size < ZIP_BUDGET_BYTES, f"deployment.zip is {size / 1024 / 1024:.2f} MiB, over the 10 MiB budget"


def test_the_web_pages_are_in_the_package(package: Package) -> None:
    """Chalice packages app.py and everything under chalicelib/, so the pages' files live there."""
    static = ROOT / "chalicelib" / "static"
    pages = {f"chalicelib/static/{path.relative_to(static).as_posix()}" for path in static.rglob("*") if path.is_file()}
    with zipfile.ZipFile(package.zip_path) as archive:
        assert "chalicelib/static/index.html" in pages and pages <= set(archive.namelist())


def test_make_deploy_uploads_the_package_and_deploys_the_stack_with_cloudformation() -> None:
    plan = make(
        "-n",
        "deploy",
        "STAGE=prod",
        "BUCKET=artifacts",
        "SENDER_EMAIL=no-reply@example.com",
        "ALARM_EMAIL=ops@example.com",
        "REGION=eu-west-1",
    )
    assert plan.returncode == 0, plan.stderr
    commands = " ".join(plan.stdout.replace("\\\n", " ").split())
    assert "chalice package --stage prod --merge-template infra/template.json dist/prod" in commands
    upload = "aws cloudformation package --region eu-west-1 --template-file dist/prod/sam.json"
    assert f"{upload} --s3-bucket artifacts" in commands
    assert "aws cloudformation deploy --region eu-west-1 --stack-name aegis-2fa-prod" in commands
    assert "--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND" in commands
    assert "--parameter-overrides SenderEmail=no-reply@example.com AlarmEmail=ops@example.com" in commands

    missing = make("deploy", "STAGE=prod")
    assert missing.returncode != 0 and "BUCKET" in missing.stderr


def test_api_gateway_answers_in_the_api_error_shape(package: Package) -> None:
    """Requests that never reach the function (an unknown route, a Lambda timeout) still get
    `{"error": {"code", "message"}}`, not API Gateway's own bodies."""
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in package.of_type("AWS::ApiGateway::GatewayResponse").values()
    }
    unknown, failure = responses["MISSING_AUTHENTICATION_TOKEN"], responses["DEFAULT_5XX"]
    assert unknown["StatusCode"] == "404"
    assert json.loads(unknown["ResponseTemplates"]["application/json"])["error"]["code"] == "not_found"
    assert failure["StatusCode"] == "503"
    assert json.loads(failure["ResponseTemplates"]["application/json"])["error"]["code"] == "temporarily_unavailable"
    assert failure["ResponseParameters"]["gatewayresponse.header.Retry-After"] == "'5'"
    assert references(unknown["RestApiId"]) == references(failure["RestApiId"]) == {"RestAPI"}
