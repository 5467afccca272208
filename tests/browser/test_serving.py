"""The pages over real HTTP: `chalice local` (what `make run` starts) answers unknown
routes in the API's error shape, and the browser enforces the pages' security policy."""

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from devkit.browser import free_port
from devkit.chalice_local import command as serve_local_stage
from devkit.harness import PROJECT_DIR, Harness
from devkit.stack import LOCAL_ENVIRONMENT


def fetch(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method)  # noqa: S310 - a localhost URL of ours
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture(scope="module")
def chalice_local() -> Iterator[str]:
    """`chalice local --stage local`, as `make run` starts it, one process (no AWS is needed for these routes)."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        serve_local_stage(port),
        cwd=PROJECT_DIR,
        env={**os.environ, **LOCAL_ENVIRONMENT},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                fetch(url + "/")
                break
            except OSError:
                assert process.poll() is None, "chalice local exited"
                assert time.monotonic() < deadline, "chalice local did not start within 60 s"
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_chalice_local_serves_the_pages(chalice_local: str) -> None:
    status, headers, body = fetch(chalice_local + "/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert b"js/main.js" in body
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


@pytest.mark.parametrize(("method", "path"), [("GET", "/nope"), ("GET", "/v1/users"), ("POST", "/"), ("GET", "/a/b/c")])
def test_chalice_local_answers_unknown_routes_with_404_not_found(chalice_local: str, method: str, path: str) -> None:
    status, headers, body = fetch(chalice_local + path, method)
    assert status == 404
    assert json.loads(body) == {"error": {"code": "not_found", "message": "No such endpoint."}}
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_the_browser_refuses_inline_script_and_style(page: Page, stack: Harness) -> None:
    violations: list[str] = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "document.body.dataset.ran = 'yes'";
            document.body.append(script);
            const style = document.createElement("style");
            style.textContent = "body { display: none }";
            document.head.append(style);
        }"""
    )
    assert page.evaluate("document.body.dataset.ran") is None
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert len(violations) >= 2, violations
