"""openapi.json, the HTTP contract for machines, is kept true three ways:

- it lists exactly the API routes of `app.routes`, both ways, and the routes of API.md;
- each operation's security names exactly the token kinds the route accepts, asked of the
  application with every kind of token;
- schemathesis sends each operation data made from the document (valid and invalid), with a
  token of each kind the operation takes, to the application under `chalice local` on a free
  port, and fails on any 5xx, any status the document does not list, any body outside its
  schema (errors: the error shape) and a missing `Retry-After`.

The web pages' routes are not API routes and are not in the document: `GET /` and the
catch-all `GET /{p0}` ... `/{p0}/.../{p7}` that serve the pages' files and answer 404 for
anything else. The test names them exactly, so an API route cannot hide among them.
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from devkit.browser import PageServer
from devkit.harness import Harness

ROOT = Path(__file__).resolve().parents[1]
DOCUMENT = json.loads((ROOT / "openapi.json").read_text())
API_MD = ROOT.parent / "shared" / "API.md"
METHODS = ("get", "put", "post", "delete", "patch")
TOKEN_KINDS = ("session", "challenge", "enrollment")
# Examples per operation and generation mode: the run stays within a couple of minutes.
EXAMPLES = 12


def documented_operations() -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in DOCUMENT["paths"].items() for method in item if method in METHODS}


def web_page_routes() -> set[tuple[str, str]]:
    from app import UNKNOWN_ROUTE_DEPTH

    catch_alls = {"".join(f"/{{p{i}}}" for i in range(depth)) for depth in range(1, UNKNOWN_ROUTE_DEPTH + 1)}
    return {("GET", path) for path in {"/", *catch_alls}}


def app_routes() -> dict[tuple[str, str], Any]:
    from app import app

    return {(method, path): entry for path, methods in app.routes.items() for method, entry in methods.items()}


def security_of(method: str, path: str) -> set[str]:
    operation = DOCUMENT["paths"][path][method.lower()]
    return {kind for requirement in operation["security"] for kind in requirement}


# -- the document and the routes ---------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1() -> None:
    from openapi_spec_validator import validate

    assert DOCUMENT["openapi"].startswith("3.1.")
    validate(DOCUMENT)
    assert set(DOCUMENT["components"]["securitySchemes"]) == set(TOKEN_KINDS)


def test_the_document_lists_every_api_route_and_nothing_else() -> None:
    routes = app_routes()
    pages = web_page_routes()
    assert pages <= set(routes)
    # The pages' routes are exactly the file server's, so no API route is left out with them.
    assert {routes[route].view_name for route in pages} == {"index", "any_other_path"}
    assert not {entry.view_name for route, entry in routes.items() if route not in pages} & {"index", "any_other_path"}
    api = set(routes) - pages
    assert documented_operations() - api == set(), "documented, but no such route in app.py"
    assert api - documented_operations() == set(), "a route of app.py that openapi.json does not document"


def test_the_document_lists_the_routes_of_api_md() -> None:
    text = API_MD.read_text()
    in_api_md = {(m, p) for m, p in re.findall(r"`(GET|POST|PUT|DELETE|PATCH) (/[^`\s?]*)", text) if p != "/"}
    assert in_api_md == documented_operations()


def test_every_error_is_the_error_shape_and_every_429_and_503_says_when_to_retry() -> None:
    responses = DOCUMENT["components"]["responses"]
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    name = response["$ref"].rsplit("/", 1)[-1]
                    schema = responses[name]["content"]["application/json"]["schema"]
                    assert {"$ref": "#/components/schemas/Error"} in schema["allOf"], (method, path, status)
                    if status in ("429", "503"):
                        assert responses[name]["headers"]["Retry-After"]["$ref"] == "#/components/headers/RetryAfter"
            assert "503" in operation["responses"] and "429" in operation["responses"], (method, path)


# -- the application ---------------------------------------------------------------------------


class Fuzzing:
    """The application under `chalice local`, and a user behind each kind of token: an owner of a
    Business organization without 2FA (session tokens), one with 2FA (challenge tokens), and a
    member past that owner's deadline without 2FA (enrollment tokens)."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        h.sign_up("fuzz-owner@example.com")
        owner = h.session("fuzz-owner@example.com")
        self.org_id = h.post("/v1/orgs", {"name": "Fuzz", "plan": "business"}, token=owner).body["org_id"]
        strict, _, _ = h.user_with_two_factor("fuzz-2fa@example.com")
        self.strict_org_id = h.post("/v1/orgs", {"name": "Strict", "plan": "business"}, token=strict).body["org_id"]
        self.late_user_id = h.sign_up("fuzz-late@example.com")
        assert h.join(self.strict_org_id, strict, "fuzz-late@example.com").status == 200
        assert (
            h.put(f"/v1/orgs/{self.strict_org_id}/security", {"require_two_factor": True}, token=strict).status == 200
        )
        h.clock.advance(31 * 86400)
        self.owner_id = h.get("/v1/me/security", token=self.token("session")).body["user_id"]
        self._turns = itertools.count()

    def token(self, kind: str) -> str:
        """A new token of this kind: a case may sign out or spend it."""
        if kind == "session":
            return self.h.session("fuzz-owner@example.com")
        reply = self.h.sign_in("fuzz-2fa@example.com" if kind == "challenge" else "fuzz-late@example.com")
        return str(reply.body[f"{kind}_token"])

    def prepare(self, case: Any) -> dict[str, str]:
        """The case's headers, with a token of a kind its operation takes, taking turns; every
        other case also aims at real organizations and users rather than unknown ids."""
        turn = next(self._turns)
        kinds = sorted(security_of(case.method, case.path))
        negative_path = case.meta is not None and case.meta.is_negative_at(ParameterLocation.PATH)
        if turn % 2 and case.path_parameters and not negative_path:
            real = {"org_id": (self.org_id, self.strict_org_id), "user_id": (self.owner_id, self.late_user_id)}
            for name in case.path_parameters:
                case.path_parameters[name] = real[name][turn // 2 % 2]
        return {"Authorization": f"Bearer {self.token(kinds[turn % len(kinds)])}"} if kinds else {}


@pytest.fixture(scope="module")
def fuzzing() -> Iterator[tuple[Fuzzing, str]]:
    with Harness(seed="openapi") as h:
        fuzzing = Fuzzing(h)
        with PageServer(h.app) as server:
            yield fuzzing, server.url


@pytest.mark.parametrize(("method", "path"), sorted(documented_operations()))
def test_each_operation_takes_exactly_the_tokens_its_security_names(
    fuzzing: tuple[Fuzzing, str], method: str, path: str
) -> None:
    app, _ = fuzzing
    h = app.h
    concrete = re.sub(r"\{[a-z_]+\}", lambda _: str(uuid.UUID(int=7)), path)
    body = None if method in ("GET", "DELETE") else {}
    accepted = security_of(method, path)
    for kind in (*TOKEN_KINDS, None):
        reply = h.request(method, concrete, body, token=app.token(kind) if kind else None)
        refused = reply.status == 401 and reply.body["error"]["code"] == "unauthorized"
        if accepted:
            assert refused == (kind not in accepted), (method, path, kind, reply)
        else:
            assert not refused, (method, path, kind, reply)


# Other methods on a documented path are API Gateway's 404 (test_web.py), not the document's.
schema = schemathesis.openapi.from_dict(
    DOCUMENT, config=schemathesis.Config.from_dict({"phases": {"coverage": {"unexpected-methods": []}}})
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_the_application_answers_as_the_document_says(case: Any, fuzzing: tuple[Fuzzing, str]) -> None:
    app, url = fuzzing
    headers = app.prepare(case)
    case.call_and_validate(base_url=url, headers=headers, checks=CHECKS)
