"""Signing up, signing in without 2FA, and signing out, in the browser."""

import json
import re

from playwright.sync_api import Page, Route, expect

from devkit.browser import sign_in
from devkit.harness import PASSWORD, Harness


def test_sign_up_then_sign_out_and_in_without_2fa(page: Page, stack: Harness) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_role("link", name="Create account").click()
    expect(page.get_by_role("heading", name="Create account")).to_be_visible()
    page.get_by_label("Email").fill("Alice@Example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()

    expect(page.get_by_role("heading", name="Security", exact=True)).to_be_visible()
    expect(page.get_by_text("Signed in as alice@example.com")).to_be_visible()
    expect(page.get_by_text("2FA is off.")).to_be_visible()
    session = page.evaluate("sessionStorage.getItem('aegis.session')")
    assert session, "the session token is kept for this tab"
    assert page.evaluate("localStorage.length") == 0
    assert page.evaluate("document.cookie") == ""
    assert session not in page.url

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('aegis.session')") is None
    assert stack.get("/v1/me/security", token=session).status == 401, "signing out ends the session at the API"

    sign_in(page, "alice@example.com")
    expect(page.get_by_role("heading", name="Security", exact=True)).to_be_visible()
    # A reload keeps the tab signed in.
    page.reload()
    expect(page.get_by_text("Signed in as alice@example.com")).to_be_visible()


def test_wrong_password_and_taken_email_are_explained(page: Page, stack: Harness) -> None:
    stack.sign_up("alice@example.com")
    sign_in(page, "alice@example.com", "not the password")
    expect(page.get_by_role("alert")).to_have_text("The email or password is wrong.")

    page.get_by_role("link", name="Create account").click()
    page.get_by_label("Email").fill("alice@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("alert")).to_have_text(re.compile("already", re.IGNORECASE))


def test_an_ended_session_leads_back_to_sign_in(page: Page, stack: Harness) -> None:
    stack.sign_up("alice@example.com")
    sign_in(page, "alice@example.com")
    expect(page.get_by_role("heading", name="Security", exact=True)).to_be_visible()
    stack.delete("/v1/sessions/current", token=page.evaluate("sessionStorage.getItem('aegis.session')"))

    page.reload()
    expect(page.get_by_text("Your session has ended. Sign in again.")).to_be_visible()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_a_throttled_password_step_counts_down_before_the_next_try(page: Page, stack: Harness) -> None:
    """After 10 wrong passwords the API answers 429 too_many_attempts with Retry-After (API.md,
    DESIGN.md "Throttling"): 1 minute, doubling to an hour. The page is given that answer here,
    as the API words it, and must wait it out with a countdown."""
    stack.sign_up("alice@example.com")
    throttled = {
        "error": {"code": "too_many_attempts", "message": "Too many failed sign-ins. Wait before trying again."}
    }

    def refuse(route: Route) -> None:
        route.fulfill(
            status=429, headers={"Retry-After": "120"}, content_type="application/json", body=json.dumps(throttled)
        )

    page.clock.install()  # the page's timers, so the test need not wait two minutes
    page.route("**/v1/sessions", refuse)
    sign_in(page, "alice@example.com")
    expect(page.get_by_role("alert")).to_have_text("Too many failed sign-ins. Wait before trying again.")
    expect(page.get_by_role("timer")).to_have_text("Try again in 2 minutes.")
    button = page.get_by_role("button", name="Sign in")
    expect(button).to_be_disabled()
    page.clock.run_for(31_000)
    expect(page.get_by_role("timer")).to_have_text("Try again in 89 seconds.")

    page.unroute("**/v1/sessions")
    page.clock.run_for(89_000)
    expect(page.get_by_role("timer")).to_be_hidden()
    expect(button).to_be_enabled()
    button.click()
    expect(page.get_by_role("heading", name="Security", exact=True)).to_be_visible()
