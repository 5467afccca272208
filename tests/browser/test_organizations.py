"""Organizations in the browser: enrollment required at sign-in, an owner requiring 2FA,
names shown as text, and the invitation link."""

import re

from playwright.sync_api import Page, expect

from devkit.browser import Authenticator, enter_code, organization, read_qr, sign_in
from devkit.harness import Harness

DAY = 24 * 3600
CRAFTED = '<img src=x onerror="document.body.dataset.injected=1">'


def test_enrollment_is_required_at_sign_in_once_the_grace_period_is_over(page: Page, stack: Harness) -> None:
    owner_token, _, org_id = organization(stack, "owner@example.com", "Acme Corp")
    stack.sign_up("bob@example.com")
    assert stack.join(org_id, owner_token, "bob@example.com").status == 200
    assert stack.put(f"/v1/orgs/{org_id}/security", {"require_two_factor": True}, token=owner_token).status == 200

    # During the grace period Bob is warned on his Security page...
    sign_in(page, "bob@example.com")
    expect(
        page.get_by_text(re.compile(r"Acme Corp requires two-factor authentication\. Turn on 2FA before"))
    ).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    # ...and once it is over, signing in goes straight into enrollment.
    stack.clock.advance(31 * DAY)
    sign_in(page, "bob@example.com")
    expect(page.get_by_role("heading", name="Turn on two-factor authentication")).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text="Acme Corp")).to_be_visible()
    app = Authenticator.scan(read_qr(page.get_by_role("img", name="QR code for your authenticator app").screenshot()))
    enter_code(page, app.code(stack.clock.now()))
    expect(page.get_by_role("heading", name="Save your backup codes")).to_be_visible()
    page.get_by_label("I have saved my backup codes").check()
    page.get_by_role("button", name="Done").click()

    expect(page.get_by_text("2FA is on")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Acme Corp member Compliant"))).to_be_visible()


def test_an_owner_requires_2fa_after_confirming_the_grace_period(page: Page, stack: Harness) -> None:
    _, secret, org_id = organization(stack, "owner@example.com", "Acme Corp")
    sign_in(page, "owner@example.com")
    enter_code(page, Authenticator(secret).code(stack.clock.now()))
    page.get_by_role("link", name="Acme Corp").click()
    expect(page.get_by_role("heading", name="Organization Security: Acme Corp")).to_be_visible()
    switch = page.get_by_role("switch", name="Require 2FA")
    expect(switch).to_have_attribute("aria-checked", "false")

    switch.click()
    dialog = page.get_by_role("dialog", name="Require 2FA for all members?")
    expect(dialog).to_contain_text("30-day grace period")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(switch).to_have_attribute("aria-checked", "false")

    switch.click()
    dialog.get_by_role("button", name="Require 2FA").click()
    expect(page.get_by_text("2FA is now required.")).to_be_visible()
    expect(page.get_by_role("switch", name="Require 2FA")).to_have_attribute("aria-checked", "true")
    expect(page.get_by_text(re.compile("Required since Nov 27, 2026"))).to_be_visible()
    owner = page.evaluate("sessionStorage.getItem('aegis.session')")
    assert stack.get(f"/v1/orgs/{org_id}/security", token=owner).body["require_two_factor"] is True


def test_requiring_2fa_below_business_explains_the_plan(page: Page, stack: Harness) -> None:
    _, secret, _ = organization(stack, "owner@example.com", "Small Team", plan="team")
    sign_in(page, "owner@example.com")
    enter_code(page, Authenticator(secret).code(stack.clock.now()))
    page.get_by_role("link", name="Small Team").click()
    page.get_by_role("switch", name="Require 2FA").click()
    page.get_by_role("dialog").get_by_role("button", name="Require 2FA").click()
    expect(page.get_by_role("alert").filter(has_text="Business or Enterprise")).to_be_visible()
    expect(page.get_by_role("switch", name="Require 2FA")).to_have_attribute("aria-checked", "false")


def test_a_crafted_organization_name_shows_as_text(page: Page, stack: Harness) -> None:
    _, secret, _ = organization(stack, "owner@example.com", CRAFTED)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, "owner@example.com")
    enter_code(page, Authenticator(secret).code(stack.clock.now()))

    expect(page.get_by_role("link", name=CRAFTED)).to_be_visible()
    page.get_by_role("link", name=CRAFTED).click()
    expect(page.get_by_role("heading", name=f"Organization Security: {CRAFTED}")).to_be_visible()
    page.get_by_role("switch", name="Require 2FA").click()
    expect(page.get_by_role("dialog")).to_contain_text(f"Members of {CRAFTED} who have not turned on 2FA")
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()

    assert page.locator("img").count() == 0, "the name became markup"
    assert page.evaluate("document.body.dataset.injected") is None
    assert dialogs == []


def test_an_invitation_link_is_kept_for_the_tab_and_taken_out_of_the_address(page: Page, stack: Harness) -> None:
    for link in ("/?invitation=org-1&token=emailed-secret", "/#invitation=org-1&token=emailed-secret"):
        page.goto(link)
        expect(page.get_by_text("Sign in or create an account to accept your invitation.")).to_be_visible()
        assert page.url.endswith("/#/invitation"), page.url
        assert "emailed-secret" not in page.evaluate("location.href")
        stored = page.evaluate("JSON.parse(sessionStorage.getItem('aegis.invitation'))")
        assert stored == {"orgId": "org-1", "token": "emailed-secret"}
        assert page.evaluate("localStorage.length") == 0
