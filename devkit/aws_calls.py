"""The AWS requests each Lambda function makes, recorded while the tests run, and two rules of
DynamoDB that moto does not enforce.

Every request of a botocore client passes through `BaseClient._make_api_call`. While one of
the app's Lambda entry points runs (`app.app` for the API, the handlers of `enforcement_sweep`
and `queue_worker`, invoked by `chalice.test.Client` or `chalice local`), each request is
recorded under that function with the IAM permissions it needs, as (action, resource), and the
call sites of `chalicelib` on its stack. Outside an invocation only the operator command
(`chalicelib.admin`) is recorded, as "operator"; the harness's own requests are not.

`tests/test_least_privilege.py` compares the record with each function's policy, and every call
site that `call_sites()` finds in the code with the sites the record reached.
"""

from __future__ import annotations

import ast
import contextvars
import re
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHALICELIB = ROOT / "chalicelib"
# Plumbing every request passes through; the call sites are in the code that uses it.
PLUMBING = {CHALICELIB / "aws.py", CHALICELIB / "storage" / "table.py"}
TABLE_METHODS = {"get", "batch_get", "query", "query_page", "put", "delete", "conditional", "transact", "call"}
OPERATOR = "operator"

Permission = tuple[str, str]  # (IAM action, resource: "table", "index/<name>", "key", "queue", ...)
Site = tuple[str, int]  # (path under the project, line)

_function: contextvars.ContextVar[str | None] = contextvars.ContextVar("aws_calls_function", default=None)


@dataclass
class Record:
    """Per function, each permission its requests needed and the call sites (`call_sites()`)
    they came from; and the requests that came from no known call site."""

    needs: dict[str, dict[Permission, set[CallSite]]] = field(default_factory=lambda: defaultdict(dict))
    unknown_sites: set[Site] = field(default_factory=set)

    def add(self, function: str, permissions: set[Permission], sites: set[CallSite]) -> None:
        for permission in permissions:
            self.needs[function].setdefault(permission, set()).update(sites)

    def permissions(self, function: str) -> set[Permission]:
        return set(self.needs.get(function, {}))

    def reached(self) -> set[CallSite]:
        return {site for needs in self.needs.values() for sites in needs.values() for site in sites}


def permissions_for(service: str, operation: str, params: dict[str, Any]) -> set[Permission]:
    """What IAM must allow for one request."""
    if service == "dynamodb":
        if operation == "TransactWriteItems":
            return {(f"dynamodb:{next(iter(item))}Item", "table") for item in params["TransactItems"]}
        if operation == "TransactGetItems":
            return {("dynamodb:GetItem", "table")}
        index = params.get("IndexName")
        return {(f"dynamodb:{operation}", f"index/{index}" if index else "table")}
    if service == "kms":
        return {(f"kms:{operation}", "key")}
    if service == "ses":
        needs = {(f"ses:{operation}", "identity")}
        if params.get("ConfigurationSetName"):
            needs.add((f"ses:{operation}", "configuration-set"))
        return needs
    if service == "sqs":
        return {("sqs:SendMessage" if operation == "SendMessageBatch" else f"sqs:{operation}", "queue")}
    return {(f"{service}:{operation}", "*")}


def _stack(frame: Any) -> tuple[list[Site], bool]:
    """The lines of chalicelib outside the plumbing on the stack, innermost first, and whether
    the operator command is among them."""
    lines: list[Site] = []
    operator = False
    while frame is not None:
        path = Path(frame.f_code.co_filename)
        if path.is_relative_to(CHALICELIB) and path not in PLUMBING:
            lines.append((path.relative_to(ROOT).as_posix(), frame.f_lineno))
            operator = operator or path == CHALICELIB / "admin.py"
        frame = frame.f_back
    return lines, operator


# -- DynamoDB's rules that moto skips ------------------------------------------------------------

_EXPRESSIONS = (
    "UpdateExpression",
    "ConditionExpression",
    "KeyConditionExpression",
    "FilterExpression",
    "ProjectionExpression",
)


def dynamodb_refusal(operation: str, params: dict[str, Any]) -> str | None:
    """Why DynamoDB would refuse this request although moto accepts it, or None: a transaction
    that touches one item twice, or an expression value that no expression uses."""
    if operation == "TransactWriteItems":
        seen: set[str] = set()
        for item in params["TransactItems"]:
            body = next(iter(item.values()))
            key = body.get("Key") or {name: body["Item"][name] for name in ("pk", "sk")}
            identity = repr((body.get("TableName"), sorted(key.items())))
            if identity in seen:
                return "Transaction request cannot include multiple operations on one item"
            seen.add(identity)
            problem = _unused_values(body)
            if problem:
                return problem
        return None
    if operation in ("PutItem", "UpdateItem", "DeleteItem", "Query", "Scan"):
        return _unused_values(params)
    return None


def _unused_values(body: dict[str, Any]) -> str | None:
    expressions = " ".join(body.get(name, "") for name in _EXPRESSIONS)
    unused = [
        value
        for value in body.get("ExpressionAttributeValues", {})
        if not re.search(rf"{re.escape(value)}(?![A-Za-z0-9_])", expressions)
    ]
    if unused:
        return f"Value provided in ExpressionAttributeValues unused in expressions: keys: {{{', '.join(unused)}}}"
    return None


# -- installing ------------------------------------------------------------------------------------


class Recorder:
    """`install()` patches botocore and Chalice's entry points for the rest of the process."""

    def __init__(self) -> None:
        self.record = Record()
        self._undo: list[Callable[[], None]] = []

    def install(self) -> None:
        from botocore.client import BaseClient
        from botocore.exceptions import ClientError
        from chalice.app import Chalice, EventSourceHandler

        record = self.record
        sites_in: dict[str, list[CallSite]] = defaultdict(list)
        for site in call_sites():
            sites_in[site.path].append(site)
        make_api_call = BaseClient._make_api_call

        def recorded(client: Any, operation: str, params: dict[str, Any]) -> Any:
            service = client.meta.service_model.service_name
            function = _function.get()
            lines, operator = _stack(sys._getframe(1))
            if function is None and operator:
                function = OPERATOR
            if function is not None:
                reached = {site for line in lines for site in sites_in.get(line[0], ()) if site.covers(line)}
                if not reached:
                    record.unknown_sites.add(lines[0] if lines else ("?", 0))
                record.add(function, permissions_for(service, operation, params), reached)
            if service == "dynamodb":
                refusal = dynamodb_refusal(operation, params)
                if refusal:
                    raise ClientError({"Error": {"Code": "ValidationException", "Message": refusal}}, operation)
            return make_api_call(client, operation, params)

        def entry_point(original: Callable[..., Any], name: Callable[[Any, Any], str]) -> Callable[..., Any]:
            def invoke(handler: Any, event: Any, context: Any) -> Any:
                token = _function.set(name(handler, context))
                try:
                    return original(handler, event, context)
                finally:
                    _function.reset(token)

            return invoke

        patches = [
            (BaseClient, "_make_api_call", recorded),
            (Chalice, "__call__", entry_point(Chalice.__call__, lambda handler, context: "api_handler")),
            (
                EventSourceHandler,
                "__call__",
                entry_point(
                    EventSourceHandler.__call__,
                    lambda handler, context: getattr(context, "function_name", None) or handler.func.__name__,
                ),
            ),
        ]
        for owner, name, replacement in patches:
            original = owner.__dict__[name]
            setattr(owner, name, replacement)
            self._undo.append(lambda owner=owner, name=name, original=original: setattr(owner, name, original))

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()


# -- the call sites in the code ------------------------------------------------------------------------


@dataclass(frozen=True)
class CallSite:
    path: str
    first: int
    last: int
    text: str

    def covers(self, site: Site) -> bool:
        return site[0] == self.path and self.first <= site[1] <= self.last


def call_sites() -> list[CallSite]:
    """Every call in chalicelib that makes an AWS request, found in the source: the table's I/O
    methods (`self._table.get(...)`), `aws.call(...)`, and an operation of a lazily created
    client (`self._ses().send_email(...)`). A site spans the statement around the call (a
    comprehension or a loop reports its first line while it runs), or the header of a loop."""
    found: list[CallSite] = []
    for path in sorted(CHALICELIB.rglob("*.py")):
        if path in PLUMBING:
            continue
        source = path.read_text()
        enclosing: dict[ast.AST, Any] = {}  # node -> the statement around it (parents come first)
        for node in ast.walk(ast.parse(source)):
            for child in ast.iter_child_nodes(node):
                enclosing[child] = node if isinstance(node, ast.stmt) else enclosing.get(node, node)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and _is_aws_call(node.func):
                around = enclosing[node]
                body = getattr(around, "body", None)
                last = body[0].lineno - 1 if body else around.end_lineno or around.lineno
                text = (ast.get_source_segment(source, node) or "").splitlines()[0].strip()
                found.append(CallSite(path.relative_to(ROOT).as_posix(), around.lineno, last, text))
    return found


def _is_aws_call(func: ast.Attribute) -> bool:
    target = func.value
    if isinstance(target, ast.Attribute) and target.attr == "_table" and func.attr in TABLE_METHODS:
        return True  # self._table.get(...)
    if isinstance(target, ast.Name) and target.id == "aws" and func.attr == "call":
        return True  # aws.call("sqs.SendMessageBatch", ...)
    # self._kms().decrypt(...): an operation of the client that a callable attribute returns
    clients = {"_kms", "_ses", "_sqs", "_db"}
    return isinstance(target, ast.Call) and isinstance(target.func, ast.Attribute) and target.func.attr in clients
