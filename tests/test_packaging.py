"""The CloudFormation stack that `make deploy` would create, checked offline.

Once per deployable stage, `make package` writes the SAM template and the Lambda zip to a
temporary folder, and the SAM translator expands the template into the CloudFormation that
AWS would deploy. cfn-lint must accept both, and they must hold what a real account needs:
the table, the key, the schedule, one API stage with its gateway responses, throttling, WAF,
access logs and tracing, alarms, and least-privilege IAM wired to them by reference (each
function's policy is compared with its requests in tests/test_least_privilege.py). Nothing
here talks to AWS; `chalice package` downloads the Lambda wheels from PyPI once and reuses
them from .chalice/deployments/ afterwards.
"""

from __future__ import annotations

import fnmatch
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

import pytest

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
    "EmailConfigurationSet",
}
# X-Ray's two actions have no resource-level permissions: "*" is the only resource IAM takes.
TRACING_ACTIONS = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
SIGN_IN_ROUTES = ("/v1/sessions", "/v1/sessions/verify", "/v1/users")
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
        self.expanded_path = folder / "expanded.json"
        self.expanded: dict[str, Any] = expand(self.template)
        self.expanded_path.write_text(json.dumps(self.expanded, indent=1))

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {name: r for name, r in self.resources.items() if r["Type"] == resource_type}

    def properties(self, name: str) -> dict[str, Any]:
        props: dict[str, Any] = self.resources[name]["Properties"]
        return props

    def expanded_of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {name: r for name, r in self.expanded["Resources"].items() if r["Type"] == resource_type}


def expand(template: dict[str, Any]) -> dict[str, Any]:
    """The CloudFormation that AWS would make of the SAM template, by AWS's own translator, after
    `aws cloudformation package` has put the code in S3."""
    import copy

    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    uploaded = copy.deepcopy(template)
    for resource in uploaded["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://artifacts/deployment.zip"
    session = boto3.session.Session(region_name="us-east-1")
    translated: dict[str, Any] = Translator(None, Parser(), boto_session=session).translate(
        uploaded, parameter_values={}, get_managed_policy_map=lambda: {}
    )
    return translated


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


# -- the template is valid -----------------------------------------------------------------


def test_cfn_lint_accepts_the_sam_template_and_what_sam_makes_of_it(package: Package) -> None:
    """No warning either: W3660 (gateway responses beside an API defined by its body) was one."""
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(  # noqa: S603
        [str(cfn_lint), str(package.template_path), str(package.expanded_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
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


def test_functions_get_the_table_key_sender_queue_and_email_configuration_set_by_reference(package: Package) -> None:
    functions = package.of_type("AWS::Serverless::Function")
    assert set(functions) == set(FUNCTIONS)
    source = "".join(path.read_text() for path in (ROOT / "chalicelib").glob("*.py"))
    read_by_code = set(re.findall(r'"(AEGIS_[A-Z_]+)"', source))
    for name, function in functions.items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["AEGIS_TABLE_NAME"] == {"Ref": "Table"}, name
        assert variables["AEGIS_KMS_KEY_ID"] == {"Fn::GetAtt": ["Key", "Arn"]}, name
        assert variables["AEGIS_SENDER_EMAIL"] == {"Ref": "SenderEmail"}, name
        assert variables["AEGIS_QUEUE_URL"] == {"Ref": "WorkQueue"}, name
        assert variables["AEGIS_SES_CONFIGURATION_SET"] == {"Ref": "EmailConfigurationSet"}, name
        assert variables["AEGIS_METRICS_NAMESPACE"] == {"Fn::Sub": "aegis-2fa/${AWS::StackName}"}, name
        assert set(variables) <= read_by_code, f"{name} sets variables the code never reads"
    configuration_set = package.properties("EmailConfigurationSet")
    assert configuration_set["ReputationOptions"] == {"ReputationMetricsEnabled": True}


def test_logs_are_kept_for_a_bounded_time_in_groups_created_before_the_functions(package: Package) -> None:
    groups = package.of_type("AWS::Logs::LogGroup")
    for function in FUNCTIONS:
        group = groups[f"{function}LogGroup"]["Properties"]
        assert 1 <= group["RetentionInDays"] <= 400
        suffix = group["LogGroupName"]["Fn::Sub"].removeprefix("/aws/lambda/")
        assert package.properties(function)["FunctionName"] == {"Fn::Sub": suffix}


def watched_metrics(package: Package) -> set[tuple[str, str, str, str]]:
    """(namespace, metric, dimensions, statistic) of every alarm; custom namespaces as "custom"."""
    watched = set()
    [topic] = package.of_type("AWS::SNS::Topic")
    for alarm in package.of_type("AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": topic}] == props["OKActions"]
        stats = [m["MetricStat"] for m in props.get("Metrics", []) if "MetricStat" in m]
        for metric, stat in [(m["Metric"], m["Stat"]) for m in stats] or [
            (props, props.get("Statistic") or props["ExtendedStatistic"])
        ]:
            dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
            namespace = metric["Namespace"] if isinstance(metric["Namespace"], str) else "custom"
            watched.add((namespace, metric["MetricName"], json.dumps(dimensions, sort_keys=True), stat))
    return watched


def test_alarms_watch_errors_latency_throttles_sign_in_failures_lockouts_email_reputation_and_the_work(
    package: Package,
) -> None:
    [props] = package.of_type("AWS::SNS::Topic").values()
    assert props["Properties"]["Subscription"] == [{"Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}]
    watched = {(namespace, metric, dimensions) for namespace, metric, dimensions, _ in watched_metrics(package)}
    api_name = json.dumps({"ApiName": {"Ref": "AWS::StackName"}})
    function = {name: json.dumps({"FunctionName": {"Ref": name}}) for name in FUNCTIONS}
    table = json.dumps({"TableName": {"Ref": "Table"}})
    assert ("AWS/ApiGateway", "5XXError", api_name) in watched
    assert ("AWS/ApiGateway", "Latency", api_name, "p99") in watched_metrics(package)
    for name in FUNCTIONS:
        assert ("AWS/Lambda", "Errors", function[name]) in watched, name
    assert ("AWS/Lambda", "Throttles", function["APIHandler"]) in watched
    assert ("AWS/Lambda", "Throttles", function["EnforcementSweep"]) in watched
    assert ("AWS/Lambda", "Invocations", function["EnforcementSweep"]) in watched, "a sweep that stops running"
    assert ("custom", "SweepProblems", "{}") in watched, "a sweep that runs but cannot send"
    assert ("custom", "SignInClientErrors", "{}") in watched, "a 4xx spike on the sign-in routes"
    assert ("AWS/DynamoDB", "ReadThrottleEvents", table) in watched
    assert ("AWS/DynamoDB", "WriteThrottleEvents", table) in watched
    dead_letters = json.dumps({"QueueName": {"Fn::GetAtt": ["WorkDeadLetterQueue", "QueueName"]}})
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", dead_letters) in watched
    work = json.dumps({"QueueName": {"Fn::GetAtt": ["WorkQueue", "QueueName"]}})
    assert ("AWS/SQS", "ApproximateAgeOfOldestMessage", work) in watched
    assert ("AWS/SES", "Reputation.BounceRate", "{}") in watched
    assert ("AWS/SES", "Reputation.ComplaintRate", "{}") in watched
    # The API's name is the one API Gateway's metrics carry.
    assert package.properties("RestAPI")["Name"] == {"Ref": "AWS::StackName"}


def test_the_lockout_alarm_watches_the_metric_the_functions_publish(package: Package) -> None:
    from chalicelib import observability

    [lockouts] = [
        a["Properties"]
        for a in package.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == observability.LOCKOUTS
    ]
    namespace = package.properties("APIHandler")["Environment"]["Variables"]["AEGIS_METRICS_NAMESPACE"]
    assert lockouts["Namespace"] == namespace
    assert lockouts["Dimensions"] == [{"Name": "service", "Value": observability.SERVICE}]
    assert lockouts["Statistic"] == "Sum"


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
            if statement["Resource"] == "*":
                assert statement["Action"] == TRACING_ACTIONS, f"{where}: only X-Ray takes no resource"
                continue
            for resource in as_list(statement["Resource"]):
                assert isinstance(resource, dict), f"{where}: hard-coded resource {resource}"
                assert not any("*" in s for s in strings(resource)), f"{where}: wildcard in {resource}"
                named = references(resource)
                assert named and named <= PROJECT_RESOURCES, f"{where}: names {named - PROJECT_RESOURCES}"
    managed = [r for r in package.resources.values() if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")]
    assert not managed, "every permission of the functions is in .chalice/policy-<function>.json"
    for role in package.of_type("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]


def test_each_role_holds_its_functions_policy_file_as_written(package: Package) -> None:
    """tests/test_least_privilege.py compares the files with what each function did."""
    roles = {
        "APIHandler": "ApiHandlerRole",
        "EnforcementSweep": "EnforcementSweepRole",
        "QueueWorker": "QueueWorkerRole",
    }
    for function, config_name in FUNCTIONS.items():
        assert package.properties(function)["Role"] == {"Fn::GetAtt": [roles[function], "Arn"]}
        written = json.loads(
            (ROOT / ".chalice" / CONFIG["lambda_functions"][config_name]["iam_policy_file"]).read_text()
        )
        [policy] = package.properties(roles[function])["Policies"]
        assert policy["PolicyDocument"] == written, function


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
        *TRACING_ACTIONS,
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "sqs:SendMessage",
    }
    for role, statements in role_statements(package).items():
        for statement in statements:
            if any(action.startswith("sqs:") for action in as_list(statement["Action"])):
                assert references(statement["Resource"]) == {"WorkQueue"}, role
            if any(action.startswith("logs:") for action in as_list(statement["Action"])):
                assert references(statement["Resource"]) == {
                    role.replace("Role", "LogGroup").replace("ApiHandler", "APIHandler")
                }
            index = [text for text in strings(statement["Resource"]) if "/index/" in text]
            assert not index or as_list(statement["Action"]) == ["dynamodb:Query"], role
            if "ses:SendEmail" in as_list(statement["Action"]):
                assert statement["Condition"] == {"StringEquals": {"ses:FromAddress": {"Ref": "SenderEmail"}}}
                assert references(statement["Resource"]) == {"SenderEmail", "EmailConfigurationSet"}


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


# -- the API at the edge ---------------------------------------------------------------------


def api_stage(package: Package) -> dict[str, Any]:
    [stage] = package.expanded_of_type("AWS::ApiGateway::Stage").values()
    props: dict[str, Any] = stage["Properties"]
    return props


def test_the_api_has_one_stage_with_its_gateway_responses_inside_its_definition(package: Package) -> None:
    """SAM adds a stage named "Stage" beside ours unless OpenApiVersion is set, and gateway
    responses beside an API defined by its body race its deployments (cfn-lint W3660)."""
    assert package.properties("RestAPI")["OpenApiVersion"] == "2.0"  # Chalice's definition is Swagger 2.0
    assert api_stage(package)["StageName"] == "api"
    for deployment in package.expanded_of_type("AWS::ApiGateway::Deployment").values():
        assert "StageName" not in deployment["Properties"]
    assert not package.expanded_of_type("AWS::ApiGateway::GatewayResponse")
    [api] = package.expanded_of_type("AWS::ApiGateway::RestApi").values()
    assert "x-amazon-apigateway-gateway-responses" in api["Properties"]["Body"]


def test_api_gateway_answers_in_the_api_error_shape(package: Package) -> None:
    """Requests that never reach the function (an unknown route, a throttled or refused request,
    a Lambda timeout) still get `{"error": {"code", "message"}}`, not API Gateway's own bodies."""
    [api] = package.expanded_of_type("AWS::ApiGateway::RestApi").values()
    responses = api["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"]
    expected = {
        "MISSING_AUTHENTICATION_TOKEN": ("404", "not_found"),
        "WAF_FILTERED": ("403", "forbidden"),
        "THROTTLED": ("429", "too_many_attempts"),
        "REQUEST_TOO_LARGE": ("413", "payload_too_large"),
        "DEFAULT_4XX": (None, "invalid_request"),  # keeps API Gateway's status
        "DEFAULT_5XX": ("503", "temporarily_unavailable"),
    }
    assert set(responses) == set(expected)
    for kind, (status, code) in expected.items():
        response = responses[kind]
        assert response.get("statusCode") == status, kind
        body = json.loads(response["responseTemplates"]["application/json"])
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, kind
        assert body["error"]["code"] == code, kind
        headers = response["responseParameters"]
        assert headers["gatewayresponse.header.Cache-Control"] == "'no-store'", kind
        assert headers["gatewayresponse.header.X-Content-Type-Options"] == "'nosniff'", kind
    assert responses["THROTTLED"]["responseParameters"]["gatewayresponse.header.Retry-After"] == "'1'"
    assert responses["DEFAULT_5XX"]["responseParameters"]["gatewayresponse.header.Retry-After"] == "'5'"


def test_the_api_function_gives_up_before_api_gateway_does(package: Package) -> None:
    """API Gateway waits 29 seconds for the function; a function that ran longer would end as a
    bare 504. Three SDK attempts of 2 + 5 seconds each fit in the function's time."""
    timeout = package.properties("APIHandler")["Timeout"]
    assert timeout < 29
    assert timeout > 3 * (2 + 5)


def test_functions_and_the_stage_are_traced_with_x_ray(package: Package) -> None:
    for name, function in package.expanded_of_type("AWS::Lambda::Function").items():
        assert function["Properties"]["TracingConfig"] == {"Mode": "Active"}, name
    assert api_stage(package)["TracingEnabled"] is True


def render_access_log(package: Package, **context: Any) -> dict[str, Any]:
    """One line of the stage's access log, as API Gateway would write it for `context`."""
    values = {
        "requestId": "c0ffee00-0000-4000-8000-000000000000",
        "identity.sourceIp": "203.0.113.9",
        "requestTimeEpoch": 1795000000000,
        "httpMethod": "POST",
        "resourcePath": "/v1/sessions",
        "path": "/api/v1/sessions",
        "status": 200,
        "responseLatency": 84,
        "integrationLatency": 80,
        "responseLength": 120,
        "error.responseType": "-",
        "waf.status": "200",
        "xrayTraceId": "1-5759e988-bd862e3fe1be46a994272793",
        **context,
    }
    line = api_stage(package)["AccessLogSetting"]["Format"]
    for name in sorted(values, key=len, reverse=True):
        line = line.replace(f"$context.{name}", str(values[name]))
    assert "$context" not in line, line
    rendered: dict[str, Any] = json.loads(line)
    return rendered


def test_api_gateway_writes_a_json_access_log_line_per_request(package: Package) -> None:
    setting = api_stage(package)["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    group = package.properties("ApiAccessLogGroup")
    assert 1 <= group["RetentionInDays"] <= 400
    line = render_access_log(package, status=401, responseLatency=97)
    assert line["requestId"] == "c0ffee00-0000-4000-8000-000000000000"
    assert line["ip"] == "203.0.113.9"
    assert (line["method"], line["route"]) == ("POST", "/v1/sessions")
    assert (line["status"], line["latencyMs"]) == (401, 97), "numbers, so metric filters compare them"


def test_the_sign_in_error_metric_counts_4xx_on_the_sign_in_routes_only(package: Package) -> None:
    from devkit.log_filters import matches

    pattern = package.properties("SignInClientErrorsMetric")["FilterPattern"]
    assert package.properties("SignInClientErrorsMetric")["LogGroupName"] == {"Ref": "ApiAccessLogGroup"}
    counted = [
        render_access_log(package, resourcePath=route, status=status)
        for route in ("/v1/sessions", "/v1/sessions/verify")
        for status in (400, 401, 429)
    ]
    ignored = [
        render_access_log(package, resourcePath="/v1/sessions", status=200),
        render_access_log(package, resourcePath="/v1/sessions/verify", status=503),
        render_access_log(package, resourcePath="/v1/orgs", status=401),
        render_access_log(package, resourcePath="/v1/sessions/current", status=401),
    ]
    assert all(matches(pattern, line) for line in counted)
    assert not any(matches(pattern, line) for line in ignored)


def test_stage_throttling_caps_every_route(package: Package) -> None:
    [settings] = api_stage(package)["MethodSettings"]
    assert settings == {
        "ResourcePath": "/*",
        "HttpMethod": "*",
        "ThrottlingRateLimit": {"Ref": "ApiRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ApiBurstLimit"},
    }
    parameters = package.template["Parameters"]
    assert parameters["ApiRateLimit"]["Type"] == parameters["ApiBurstLimit"]["Type"] == "Number"


def test_the_api_function_has_reserved_concurrency(package: Package) -> None:
    """It bounds what a flood of password guesses costs, each a memory-hard hash."""
    assert package.properties("APIHandler")["ReservedConcurrentExecutions"] == {"Ref": "ApiConcurrency"}
    assert package.template["Parameters"]["ApiConcurrency"]["MinValue"] >= 1


def test_waf_guards_the_api_stage_with_a_per_address_limit_on_sign_in_and_managed_rules(package: Package) -> None:
    [(acl_name, acl)] = package.of_type("AWS::WAFv2::WebACL").items()
    props = acl["Properties"]
    assert props["Scope"] == "REGIONAL" and props["DefaultAction"] == {"Allow": {}}
    rules = {rule["Name"]: rule for rule in props["Rules"]}
    managed = {
        rule["Statement"]["ManagedRuleGroupStatement"]["Name"]
        for rule in rules.values()
        if "ManagedRuleGroupStatement" in rule["Statement"]
    }
    assert managed == {"AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesAmazonIpReputationList"}

    [limit] = [rule for rule in rules.values() if "RateBasedStatement" in rule["Statement"]]
    rate = limit["Statement"]["RateBasedStatement"]
    assert rate["Limit"] == {"Ref": "SignInRateLimit"} and rate["AggregateKeyType"] == "IP"
    scope = rate["ScopeDownStatement"]["RegexMatchStatement"]
    assert scope["FieldToMatch"] == {"UriPath": {}}
    regex = re.compile(scope["RegexString"])
    for route in SIGN_IN_ROUTES:
        assert regex.search(f"/api{route}") and regex.search(route) and regex.search(f"/api{route}/"), route
    for other in ("/api/v1/orgs", "/api/v1/sessions/current", "/api/v1/users/x", "/api/v1/me/security", "/api/"):
        assert not regex.search(other), other
    block = limit["Action"]["Block"]["CustomResponse"]
    assert block["ResponseCode"] == 429
    assert {"Name": "Retry-After", "Value": "300"} in block["ResponseHeaders"]
    body = json.loads(props["CustomResponseBodies"][block["CustomResponseBodyKey"]]["Content"])
    assert body["error"]["code"] == "too_many_attempts" and set(body["error"]) == {"code", "message"}

    [association] = package.expanded_of_type("AWS::WAFv2::WebACLAssociation").values()
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_name, "Arn"]}
    arn = association["Properties"]["ResourceArn"]["Fn::Sub"]
    [stage_name] = package.expanded_of_type("AWS::ApiGateway::Stage")
    assert arn.endswith(f"::/restapis/${{RestAPI}}/stages/${{{stage_name}}}"), arn
