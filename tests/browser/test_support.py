"""Support requests a reset of a user's 2FA; the user sees it on their Security page and cancels it."""

from playwright.sync_api import Browser, Page, expect

from chalicelib.admin import grant_support
from devkit.browser import Authenticator, PageServer, enter_code, sign_in
from devkit.harness import Harness


def test_support_requests_a_reset_and_the_user_cancels_it(
    page: Page, browser: Browser, server: PageServer, stack: Harness
) -> None:
    token, secret, _ = stack.user_with_two_factor("carol@example.com")
    carol_id = stack.get("/v1/me/security", token=token).body["user_id"]
    stack.sign_up("support@example.com")
    grant_support("support@example.com")

    sign_in(page, "support@example.com")
    page.get_by_role("link", name="Support").click()
    expect(page.get_by_role("heading", name="Support: reset a user's 2FA")).to_be_visible()
    page.get_by_label("User ID").fill(carol_id)
    page.get_by_label("Verification reference").fill("ticket 4711, passport checked on a video call")
    page.get_by_label("Reason").fill("lost phone and backup codes")
    page.get_by_role("button", name="Request reset").click()
    expect(page.get_by_text("Reset requested.")).to_contain_text("Nov 28, 2026, 9:00 AM UTC")
    assert any("reset" in email["subject"].lower() for email in stack.emails(to="carol@example.com"))

    carol = browser.new_context(base_url=server.url, locale="en-US", timezone_id="UTC").new_page()
    sign_in(carol, "carol@example.com")
    enter_code(carol, Authenticator(secret).code(stack.clock.now()))
    expect(carol.get_by_text("Support was asked to turn off 2FA on your account.")).to_be_visible()
    carol.get_by_role("button", name="Cancel reset").click()
    expect(carol.get_by_text("The support reset is cancelled. Your 2FA stays on.")).to_be_visible()
    expect(carol.get_by_role("button", name="Cancel reset")).to_be_hidden()
    assert stack.get("/v1/me/security", token=token).body["pending_reset"] is None

    # Anyone without the support role is refused.
    carol.get_by_role("link", name="Support").click()
    carol.get_by_label("User ID").fill(carol_id)
    carol.get_by_label("Verification reference").fill("x")
    carol.get_by_label("Reason").fill("x")
    carol.get_by_role("button", name="Request reset").click()
    expect(carol.get_by_role("alert")).to_have_text("Only support staff can request a 2FA reset.")
    carol.context.close()
