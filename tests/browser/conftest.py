"""Browser tests: the pages, served by the app under `chalice local`, in Debian's Chromium.

One browser and one server for the session; each test gets a fresh moto stack with a
manual clock (`stack`, the same harness as the API tests) and a fresh browser context.
"""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from devkit.browser import PageServer, launch, missing_tools
from devkit.harness import Harness

# Generous waits: CI shares two cores with the rest of the suite.
expect.set_options(timeout=10_000)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    problem = missing_tools()
    if problem:
        pytest.fail(f"The browser tests need Debian's Chromium and zbarimg: {problem}", pytrace=False)
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def server() -> Iterator[PageServer]:
    from app import app

    with PageServer(app) as running:
        yield running


@pytest.fixture
def stack(server: PageServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """moto, the table, key and sender, and a manual clock at 2026-11-27T09:00:00Z, shared by
    the test and the server. Invitation emails link to this server's pages, so a test follows
    the link as sent."""
    with Harness() as harness:
        monkeypatch.setenv("AEGIS_WEB_URL", server.url)
        yield harness


@pytest.fixture
def context(browser: Browser, server: PageServer, stack: Harness) -> Iterator[BrowserContext]:
    """A new browser profile: no storage, cookies or history from other tests."""
    context = browser.new_context(base_url=server.url, locale="en-US", timezone_id="UTC", accept_downloads=True)
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
