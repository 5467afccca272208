"""The web pages as the API serves them: files, headers, and 404 for every other route.
The browser tests (tests/browser/) drive the pages themselves."""

import re
from pathlib import Path

import pytest

from chalicelib import web
from devkit.harness import Harness

STATIC = Path(web.__file__).parent / "static"
UNKNOWN_ROUTES = [
    ("GET", "/nope"),
    ("GET", "/v1"),
    ("GET", "/v1/nope"),
    ("GET", "/js/nope.js"),
    ("GET", "/a/b/c/d/e/f/g/h"),
    ("POST", "/"),
    ("DELETE", "/index.html"),
    ("PUT", "/nope/deeper"),
    ("GET", "/v1/users"),  # a known path with another method
    ("PATCH", "/v1/sessions"),
    ("GET", "/v1/sessions/current"),
]


def test_the_pages_and_their_files_are_served(h: Harness) -> None:
    for path, content_type in [
        ("/", "text/html; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
        ("/style.css", "text/css; charset=utf-8"),
        ("/js/main.js", "text/javascript; charset=utf-8"),
        ("/favicon.svg", "image/svg+xml"),
    ]:
        reply = h.client.http.get(path)
        assert reply.status_code == 200, path
        assert reply.headers["Content-Type"] == content_type, path
        assert reply.headers["Cache-Control"] == "no-cache", path
    assert b'<script type="module" src="js/main.js">' in h.client.http.get("/").body


@pytest.mark.parametrize(("method", "path"), UNKNOWN_ROUTES)
def test_every_other_route_is_404_in_the_error_shape(h: Harness, method: str, path: str) -> None:
    reply = h.request(method, path)
    assert reply.status == 404
    assert reply.body == {"error": {"code": "not_found", "message": "No such endpoint."}}
    assert reply.headers["Cache-Control"] == "no-store"


def test_every_answer_carries_the_security_headers(h: Harness) -> None:
    headers = {
        "page": h.client.http.get("/").headers,
        "script": h.client.http.get("/js/api.js").headers,
        "created": h.post("/v1/users", {"email": "alice@example.com", "password": "correct horse"}).headers,
        "refused": h.get("/v1/me/security").headers,
        "unknown": h.get("/nope").headers,
    }
    for name, answer in headers.items():
        for header, value in web.SECURITY_HEADERS.items():
            assert answer.get(header) == value, (name, header)
    for name in ("created", "refused", "unknown"):
        assert headers[name]["Cache-Control"] == "no-store", name


def test_the_content_security_policy_allows_no_inline_code_and_no_framing() -> None:
    policy = dict(part.split(" ", 1) for part in web.CONTENT_SECURITY_POLICY.split("; "))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert not any("unsafe" in sources or "data:" in sources for sources in policy.values())


def test_the_pages_never_turn_text_into_markup_nor_keep_tokens_in_local_storage_or_cookies() -> None:
    html = (STATIC / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert not re.search(r"<style|\sstyle=|\son[a-z]+=", html), "inline style or handler"
    # The code, without its comments (which may name what the code avoids).
    scripts = {path.name: re.sub(r"//.*|/\*.*?\*/", "", path.read_text()) for path in (STATIC / "js").glob("*.js")}
    assert len(scripts) >= 8
    forbidden = (
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|localStorage|document\.cookie"
    )
    for name, source in scripts.items():
        assert not re.search(forbidden, source), name


def test_every_static_file_is_one_the_app_serves() -> None:
    on_disk = {path.relative_to(STATIC).as_posix() for path in STATIC.rglob("*") if path.is_file()}
    assert on_disk == {name for name in on_disk if web.asset(name) is not None}
    assert web.asset("../web.py") is None and web.asset("js") is None


def test_the_pages_address_without_the_stages_slash_redirects_to_it(h: Harness) -> None:
    """On AWS the path carries the stage (/api); the pages' relative links need its slash.
    The invitation in the query goes along."""
    from chalice.local import LambdaContext

    event = {
        "requestContext": {"resourcePath": "/", "httpMethod": "GET", "path": "/api", "identity": {}},
        "headers": {},
        "multiValueQueryStringParameters": {"invitation": ["org-1"], "token": ["t"]},
        "pathParameters": None,
        "stageVariables": None,
        "body": None,
    }
    answer = h.app(event, LambdaContext("api_handler", 1024))
    assert answer["statusCode"] == 301
    assert answer["headers"]["Location"] == "api/?invitation=org-1&token=t"
    event["requestContext"]["path"] = "/api/"
    assert h.app(event, LambdaContext("api_handler", 1024))["statusCode"] == 200
