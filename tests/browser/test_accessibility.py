"""axe-core on every page and state a person meets: no violation of serious or critical impact."""

from playwright.sync_api import Browser, Page, expect

from devkit.browser import Authenticator, PageServer, assert_accessible, enter_code, read_qr, sign_in
from devkit.harness import PASSWORD, Harness


def test_every_page_passes_axe(page: Page, browser: Browser, server: PageServer, stack: Harness) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert_accessible(page, "sign in")
    page.get_by_role("link", name="Create account").click()
    assert_accessible(page, "create account")
    page.get_by_label("Email").fill("owner@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("2FA is off.")).to_be_visible()
    assert_accessible(page, "security, 2FA off")

    page.get_by_role("button", name="Enable 2FA").click()
    qr = page.get_by_role("img", name="QR code for your authenticator app")
    expect(qr).to_be_visible()
    assert_accessible(page, "enrollment")
    app = Authenticator.scan(read_qr(qr.screenshot()))
    enter_code(page, "000000" if app.code(stack.clock.now()) != "000000" else "111111")
    expect(page.get_by_role("alert")).to_have_text("The code is not valid.")
    assert_accessible(page, "enrollment, wrong code")
    enter_code(page, app.code(stack.clock.now()))
    expect(page.get_by_role("heading", name="Save your backup codes")).to_be_visible()
    assert_accessible(page, "backup codes")
    page.get_by_label("I have saved my backup codes").check()
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_text("Backup codes left: 8 of 8.")).to_be_visible()
    assert_accessible(page, "security, 2FA on")
    page.get_by_role("button", name="Disable 2FA").click()
    assert_accessible(page, "disable 2FA")
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("button", name="Disable 2FA")).to_be_visible()

    page.get_by_label("Organization name").fill("Acme Corp")
    page.get_by_label("Plan").select_option("business")
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_role("heading", name="Organization Security: Acme Corp")).to_be_visible()
    assert_accessible(page, "organization security")
    org_id = page.url.rsplit("/", 1)[-1]
    stack.sign_up("bob@example.com")
    assert stack.join(org_id, page.evaluate("sessionStorage.getItem('aegis.session')"), "bob@example.com").status == 200
    page.get_by_role("switch", name="Require 2FA").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    assert_accessible(page, "require 2FA dialog")
    page.get_by_role("dialog").get_by_role("button", name="Require 2FA").click()
    expect(page.get_by_role("switch", name="Require 2FA")).to_have_attribute("aria-checked", "true")

    page.get_by_role("link", name="Support").click()
    expect(page.get_by_role("heading", name="Support: reset a user's 2FA")).to_be_visible()
    assert_accessible(page, "support")

    page.get_by_role("button", name="Sign out").click()
    stack.clock.advance(30)
    sign_in(page, "owner@example.com")
    expect(page.get_by_label("Authentication code")).to_be_visible()
    assert_accessible(page, "2FA prompt")
    page.get_by_role("button", name="Use a backup code").click()
    assert_accessible(page, "2FA prompt, backup code")

    # A member whose grace period is over, and an invitation link.
    member = browser.new_context(base_url=server.url, locale="en-US", timezone_id="UTC").new_page()
    stack.clock.advance(31 * 24 * 3600)
    sign_in(member, "bob@example.com")
    expect(member.get_by_role("heading", name="Turn on two-factor authentication")).to_be_visible()
    assert_accessible(member, "enrollment required")
    member.goto(f"/?invitation={org_id}&token=not-a-real-token")
    expect(member.get_by_role("heading", name="Sign in")).to_be_visible()
    assert_accessible(member, "invitation, signed out")
    member.context.close()
