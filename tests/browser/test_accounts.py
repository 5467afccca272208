"""Signing up, signing in without 2FA, and signing out, in the browser."""

import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect

from devkit.browser import sign_in
from devkit.harness import PASSWORD, Harness

WHEN = datetime(2026, 11, 27, 9, tzinfo=UTC)


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
    DESIGN.md "Throttling"): here the real throttle, started by an attacker's nine wrong
    passwords and the page's own tenth. The page waits it out with a countdown; even the right
    password is refused until the pause ends."""
    stack.sign_up("alice@example.com")
    for _ in range(9):
        assert stack.sign_in("alice@example.com", "a guess").status == 401

    page.clock.install(time=WHEN)  # the page's timers, so the test need not wait out the pause
    page.clock.pause_at(WHEN + timedelta(seconds=1))  # and none runs unless the test moves it
    sign_in(page, "alice@example.com", "another guess")
    expect(page.get_by_role("alert")).to_have_text("Too many wrong passwords for this email. Wait before trying again.")
    expect(page.get_by_role("timer")).to_have_text("Try again in 60 seconds.")
    button = page.get_by_role("button", name="Sign in")
    expect(button).to_be_disabled()
    page.clock.run_for(31_000)
    stack.clock.advance(31)
    expect(page.get_by_role("timer")).to_have_text("Try again in 29 seconds.")
    assert stack.sign_in("alice@example.com").status == 429  # the right password, refused in the pause

    page.clock.run_for(29_000)
    stack.clock.advance(29)
    expect(page.get_by_role("timer")).to_be_hidden()
    expect(button).to_be_enabled()
    page.get_by_label("Password").fill(PASSWORD)
    button.click()
    expect(page.get_by_role("heading", name="Security", exact=True)).to_be_visible()
