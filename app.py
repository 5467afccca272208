"""aegis-2fa: the HTTP API (see ../shared/API.md), the hourly function and the queue worker.

Routes parse input, call one service function and shape the response. Errors are
mapped to HTTP in one place, `api`; every answer gets the same security headers in
`security_headers`; every invocation is logged and measured through `observe`. Nothing
here creates an AWS client at import.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from chalice.app import Chalice, Rate, Request, Response, SQSEvent

from chalicelib import (
    accounts,
    enforcement,
    membership,
    observability,
    organizations,
    overview,
    support,
    sweep,
    tokens,
    two_factor,
    validation,
    web,
    wiring,
    worker,
)
from chalicelib.dependencies import Dependencies
from chalicelib.errors import NotFound, ServiceError
from chalicelib.validation import Field

# Chalice's own logger (it reports unhandled exceptions) writes through the root logger, so on
# Lambda its lines are JSON like ours (`observability`).
app = Chalice(app_name="aegis-2fa", configure_logs=False)
app.log.setLevel(logging.INFO)

# Every content type reaches the view, which answers a wrong one with our own 400.
ANY_CONTENT = ["*/*"]
SESSION = frozenset({tokens.SESSION})
SESSION_OR_ENROLLMENT = frozenset({tokens.SESSION, tokens.ENROLLMENT})
CHALLENGE = frozenset({tokens.CHALLENGE})

CODE = Field(str, max_length=64)
SECOND_FACTOR = {
    "code": Field(str, required=False, max_length=64),
    "backup_code": Field(str, required=False, max_length=64),
}
CREDENTIALS = {"email": Field(str, max_length=320), "password": Field(str, max_length=1024)}
# The work queue's name. Chalice writes it into an `Fn::Sub` of the queue's ARN, so the packaged
# stack's worker reads the stack's own queue, which infra/template.json names the same way.
WORK_QUEUE = "${AWS::StackName}-work"


def api(view: Callable[..., Any]) -> Callable[..., Any]:
    """The one error-mapping layer: service errors become the API's error body."""

    @functools.wraps(view)
    def handle(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except ServiceError as error:
            return error_response(error)

    return handle


def error_response(error: ServiceError) -> Response:
    return Response(
        {"error": {"code": error.code, "message": error.message}},
        status_code=error.status,
        headers=dict(error.headers),
    )


def unknown_route() -> NotFound:
    return NotFound("No such endpoint.")


@app.middleware("all")
def observe(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Every invocation, of any function: its keys on each log line, its metrics written at the end."""
    context = event.lambda_context if isinstance(event, Request) else event.context
    keys = {
        "function": getattr(context, "function_name", None),
        "function_request_id": getattr(context, "aws_request_id", None),
    }
    if isinstance(event, Request):
        route = event.context.get("resourcePath")  # the template, e.g. /v1/orgs/{org_id}: no ids
        keys.update(request_id=event.context.get("requestId"), method=event.method, route=route)
    with observability.invocation(**keys):
        return get_response(event)


@app.middleware("http")
def security_headers(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Every answer, page or API, gets the pages' security headers; API answers are never cached.
    Chalice itself answers a known path with another method (405): API Gateway answers that
    as an unknown route, so here too it is the API's 404."""
    response = get_response(event)
    if response.status_code == 405:
        response = error_response(unknown_route())
    for name, value in web.SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Cache-Control", web.API_CACHE_CONTROL)
    return response


def route(path: str, method: str) -> Callable[[Callable[..., Any]], Any]:
    def register(view: Callable[..., Any]) -> Any:
        return app.route(path, methods=[method], content_types=ANY_CONTENT)(api(view))

    return register


def deps() -> Dependencies:
    return wiring.dependencies()


def request() -> Request:
    assert app.current_request is not None
    return app.current_request


def body(fields: dict[str, Field]) -> dict[str, Any]:
    raw = request().raw_body
    return validation.parse_body(
        raw.encode() if isinstance(raw, str) else raw, request().headers.get("content-type"), fields
    )


def web_url() -> str:
    """Where the web pages are: AEGIS_WEB_URL, or the API's own address as API Gateway reports
    it (never the Host header, which the caller chooses)."""
    configured = deps().settings.web_url
    if configured:
        return configured
    context = request().context
    return f"https://{context.get('domainName', 'localhost')}/{context.get('stage', 'api')}"


def caller(kinds: frozenset[str]) -> accounts.Principal:
    principal = accounts.authenticate(deps(), request().headers.get("authorization"), kinds)
    observability.identify(principal.user_id)
    return principal


def second_factor(fields: dict[str, Any]) -> tuple[str | None, str | None]:
    """(code, backup_code), exactly one of them given and well-formed."""
    if validation.exactly_one(fields, "code", "backup_code") == "code":
        return validation.totp_code(fields["code"]), None
    return None, validation.backup_code(fields["backup_code"])


# -- accounts and sessions --------------------------------------------------------------------


@route("/v1/users", "POST")
def sign_up() -> Response:
    fields = body({"email": Field(str, max_length=320), "password": Field(str, min_length=8, max_length=1024)})
    return Response(accounts.sign_up(deps(), validation.email(fields["email"]), fields["password"]), status_code=201)


@route("/v1/sessions", "POST")
def sign_in() -> dict[str, Any]:
    fields = body(CREDENTIALS)
    return accounts.sign_in(deps(), validation.email(fields["email"]), fields["password"])


@route("/v1/sessions/verify", "POST")
def verify() -> dict[str, Any]:
    principal = caller(CHALLENGE)
    code, backup_code = second_factor(body(SECOND_FACTOR))
    return two_factor.verify_sign_in(deps(), principal, code, backup_code)


@route("/v1/sessions/current", "DELETE")
def sign_out() -> Response:
    accounts.sign_out(deps(), caller(SESSION))
    return Response("", status_code=204)


# -- two-factor authentication ----------------------------------------------------------------


@route("/v1/me/security", "GET")
def security() -> dict[str, Any]:
    return overview.security_overview(deps(), caller(SESSION_OR_ENROLLMENT))


@route("/v1/me/two-factor/enrollment", "POST")
def start_enrollment() -> Response:
    principal = caller(SESSION_OR_ENROLLMENT)
    body({})
    return Response(two_factor.start_enrollment(deps(), principal), status_code=201)


@route("/v1/me/two-factor/enrollment/confirm", "POST")
def confirm_enrollment() -> dict[str, Any]:
    principal = caller(SESSION_OR_ENROLLMENT)
    code = validation.totp_code(body({"code": CODE})["code"])
    return two_factor.confirm_enrollment(deps(), principal, code)


@route("/v1/me/two-factor/backup-codes", "POST")
def regenerate_backup_codes() -> dict[str, Any]:
    principal = caller(SESSION)
    code = validation.totp_code(body({"code": CODE})["code"])
    return two_factor.regenerate_backup_codes(deps(), principal, code)


@route("/v1/me/two-factor/disable", "POST")
def disable() -> dict[str, Any]:
    principal = caller(SESSION)
    code, backup_code = second_factor(body(SECOND_FACTOR))
    return two_factor.disable(deps(), principal, code, backup_code)


@route("/v1/me/two-factor/reset", "DELETE")
def cancel_reset() -> dict[str, Any]:
    return support.cancel_reset(deps(), caller(SESSION))


# -- organizations and support ----------------------------------------------------------------


@route("/v1/orgs", "POST")
def create_organization() -> Response:
    principal = caller(SESSION)
    fields = body({"name": Field(str, min_length=1, max_length=200), "plan": Field(str, choices=organizations.PLANS)})
    return Response(organizations.create(deps(), principal, fields["name"], fields["plan"]), status_code=201)


@route("/v1/orgs/{org_id}/invitations", "POST")
def invite(org_id: str) -> Response:
    principal = caller(SESSION)
    fields = body(
        {
            "email": Field(str, max_length=320),
            "role": Field(str, choices=("member", "admin")),
            "sso": Field(bool, required=False),
        }
    )
    invitation = membership.invite(
        deps(),
        principal,
        org_id,
        validation.email(fields["email"]),
        fields["role"],
        fields.get("sso", False),
        web_url(),
    )
    return Response(invitation, status_code=201)


@route("/v1/me/invitations", "GET")
def my_invitations() -> dict[str, Any]:
    return membership.my_invitations(deps(), caller(SESSION))


@route("/v1/me/invitations/{org_id}/accept", "POST")
def accept_invitation(org_id: str) -> dict[str, Any]:
    principal = caller(SESSION)
    token = body({"token": Field(str, min_length=1, max_length=256)})["token"]
    return membership.accept(deps(), principal, org_id, token)


@route("/v1/me/invitations/{org_id}", "DELETE")
def decline_invitation(org_id: str) -> Response:
    membership.decline(deps(), caller(SESSION), org_id)
    return Response("", status_code=204)


@route("/v1/orgs/{org_id}/members/{user_id}", "PUT")
def change_member(org_id: str, user_id: str) -> dict[str, Any]:
    principal = caller(SESSION)
    fields = body({"role": Field(str, required=False, choices=enforcement.ROLES), "sso": Field(bool, required=False)})
    return membership.change_member(deps(), principal, org_id, user_id, fields.get("role"), fields.get("sso"))


@route("/v1/orgs/{org_id}/members/{user_id}", "DELETE")
def remove_member(org_id: str, user_id: str) -> Response:
    membership.remove_member(deps(), caller(SESSION), org_id, user_id)
    return Response("", status_code=204)


@route("/v1/orgs/{org_id}/members", "GET")
def members(org_id: str) -> dict[str, Any]:
    principal = caller(SESSION)
    params = validation.query(
        request().query_params,
        {
            "limit": validation.Param(minimum=1, maximum=organizations.PAGE_LIMIT_MAX),
            "cursor": validation.Param(kind=str, max_length=1024),
            "status": validation.Param(kind=str, choices=enforcement.STATUSES),
        },
    )
    limit = params.get("limit", organizations.PAGE_LIMIT_DEFAULT)
    return organizations.members_page(deps(), principal, org_id, limit, params.get("cursor"), params.get("status"))


@route("/v1/orgs/{org_id}/security", "PUT")
def set_security_policy(org_id: str) -> dict[str, Any]:
    principal = caller(SESSION)
    required = body({"require_two_factor": Field(bool)})["require_two_factor"]
    return organizations.set_policy(deps(), principal, org_id, required)


@route("/v1/orgs/{org_id}/security", "GET")
def security_policy(org_id: str) -> dict[str, Any]:
    return organizations.policy(deps(), caller(SESSION), org_id)


@route("/v1/support/users/{user_id}/two-factor-reset", "POST")
def request_reset(user_id: str) -> Response:
    principal = caller(SESSION)
    fields = body(
        {
            "verification_reference": Field(str, min_length=1, max_length=500),
            "reason": Field(str, min_length=1, max_length=500),
        }
    )
    reset = support.request_reset(deps(), principal, user_id, fields["verification_reference"], fields["reason"])
    return Response(reset, status_code=202)


# -- the web pages ----------------------------------------------------------------------------

# `chalice local` (make run, the tests) answers a path that matches no route itself, with 403
# "Missing Authentication Token", before the app sees it. These routes take every path of up
# to this many segments to `static_file`, which serves a page's file or answers 404 not_found.
# On AWS, API Gateway's UnknownRouteResponse (infra/template.json) answers deeper ones alike.
UNKNOWN_ROUTE_DEPTH = 8


@route("/", "GET")
def index() -> Response:
    # On AWS the stage is part of the path: from ".../api" without its slash, the pages'
    # relative links would miss the stage. The relative Location stays on this host.
    path = request().context.get("path", "/")
    if not path.endswith("/"):
        query = request().to_original_event().get("multiValueQueryStringParameters") or {}
        location = path.rsplit("/", 1)[-1] + "/" + (f"?{urlencode(query, doseq=True)}" if query else "")
        return Response("", status_code=301, headers={"Location": location})
    return static_file(web.INDEX)


def static_file(*segments: str) -> Response:
    found = web.asset("/".join(segments))
    if found is None:
        raise unknown_route()
    return Response(found.body, headers={"Content-Type": found.content_type, "Cache-Control": web.PAGE_CACHE_CONTROL})


def any_other_path(**segments: str) -> Response:
    return static_file(*(segments[f"p{i}"] for i in range(len(segments))))


for depth in range(1, UNKNOWN_ROUTE_DEPTH + 1):
    route("".join(f"/{{p{i}}}" for i in range(depth)), "GET")(any_other_path)


# -- background functions ----------------------------------------------------------------------


@app.schedule(Rate(1, unit=Rate.HOURS), name="enforcement_sweep")
def enforcement_sweep(event: Any) -> dict[str, int]:
    return sweep.run(deps())


@app.on_sqs_message(queue=WORK_QUEUE, batch_size=1, name="queue_worker")
def queue_worker(event: SQSEvent) -> dict[str, int]:
    """One message per invocation: if it fails, SQS delivers that message again."""
    done: dict[str, int] = {}
    for record in event:
        for name, count in worker.handle(deps(), json.loads(record.body)).items():
            done[name] = done.get(name, 0) + count
    return done
