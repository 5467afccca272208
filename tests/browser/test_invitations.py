"""Invitations in the browser: the link in the email, followed as sent, signing in (or creating
the account) first, enrolling first when the organization requires 2FA; declining on the
invitation page and from Settings."""

import re
from urllib.parse import urlparse

from playwright.sync_api import Browser, Page, expect

from devkit import population
from devkit.browser import (
    Authenticator,
    PageServer,
    assert_accessible,
    enter_code,
    invitation_link,
    organization,
    read_qr,
    session_token,
    sign_in,
)
from devkit.harness import PASSWORD, Harness


def follow(page: Page, link: str, server: PageServer) -> None:
    """Open the emailed link, which points at the pages this server serves."""
    assert urlparse(link).netloc == urlparse(server.url).netloc, link
    page.goto(link)
    expect(page.get_by_text("Sign in or create an account to accept your invitation.")).to_be_visible()
    assert "token=" not in page.evaluate("location.href"), "the token leaves the address bar at once"


def fill_credentials(page: Page, email: str, button: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=button).click()


def test_an_owner_invites_and_the_invitee_accepts_from_the_emails_link_after_signing_in(
    page: Page, browser: Browser, server: PageServer, stack: Harness
) -> None:
    _, secret, org_id = organization(stack, "owner@example.com", "Acme Corp")
    stack.sign_up("bob@example.com")

    sign_in(page, "owner@example.com")
    enter_code(page, Authenticator(secret).code(stack.clock.now()))
    page.get_by_role("link", name="Acme Corp").click()
    invite = page.get_by_role("region", name="Invite member")
    invite.get_by_label("Email").fill("bob@example.com")
    invite.get_by_role("button", name="Invite member").click()
    expect(invite.get_by_role("status")).to_contain_text("Invitation sent to bob@example.com. It is valid until")

    bob = browser.new_context(base_url=server.url, locale="en-US", timezone_id="UTC").new_page()
    follow(bob, invitation_link(stack, "bob@example.com"), server)
    fill_credentials(bob, "bob@example.com", "Sign in")
    expect(bob.get_by_role("heading", name="Join Acme Corp")).to_be_visible()
    expect(bob.get_by_text("You're invited to join Acme Corp as a member.")).to_be_visible()
    assert_accessible(bob, "invitation, signed in")
    # Looking around first: Settings lists the invitation, and this tab can still accept it.
    bob.get_by_role("link", name="Security", exact=True).click()
    bob.get_by_role("region", name="Invitations").get_by_role("link", name="Accept the invitation to Acme Corp").click()
    bob.get_by_role("button", name="Accept invitation").click()

    expect(bob.get_by_text("You joined Acme Corp.")).to_be_visible()
    expect(bob.get_by_role("row", name=re.compile("Acme Corp member Not required"))).to_be_visible()
    assert bob.evaluate("sessionStorage.getItem('aegis.invitation')") is None, "the used token is forgotten"
    assert any(e["subject"] == "bob@example.com joined Acme Corp" for e in stack.emails("owner@example.com"))
    members = stack.get(f"/v1/orgs/{org_id}/members", token=session_token(page)).body["members"]
    assert sorted(m["email"] for m in members) == ["bob@example.com", "owner@example.com"]
    bob.context.close()


def test_a_new_member_creates_the_account_and_enrolls_first_when_the_organization_requires_2fa(
    page: Page, server: PageServer, stack: Harness
) -> None:
    owner, _, org_id = organization(stack, "owner@example.com", "Acme Corp")
    assert stack.put(f"/v1/orgs/{org_id}/security", {"require_two_factor": True}, token=owner).status == 200
    assert stack.invite(org_id, owner, "carol@example.com").status == 201  # no account yet

    follow(page, invitation_link(stack, "carol@example.com"), server)
    page.get_by_role("link", name="Create account").click()
    fill_credentials(page, "carol@example.com", "Create account")
    expect(page.get_by_role("heading", name="Join Acme Corp")).to_be_visible()
    expect(page.get_by_text("Acme Corp requires two-factor authentication")).to_be_visible()
    page.get_by_role("button", name="Accept invitation").click()

    # The API answers two_factor_required: the page goes into enrollment, then accepts again.
    expect(page.get_by_role("heading", name="Turn on 2FA to join")).to_be_focused()
    qr = page.get_by_role("img", name="QR code for your authenticator app")
    expect(qr).to_be_visible()
    assert_accessible(page, "invitation, enrolling first")
    assert stack.get(f"/v1/orgs/{org_id}/members?status=pending", token=owner).body["members"] == []
    app = Authenticator.scan(read_qr(qr.screenshot()))
    enter_code(page, app.code(stack.clock.now()))
    expect(page.get_by_role("heading", name="Save your backup codes")).to_be_visible()
    page.get_by_label("I have saved my backup codes").check()
    page.get_by_role("button", name="Done").click()

    expect(page.get_by_text("You joined Acme Corp.")).to_be_visible()
    expect(page.get_by_text("Backup codes left: 8 of 8.")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Acme Corp member Compliant"))).to_be_visible()
    members = stack.get(f"/v1/orgs/{org_id}/members", token=owner).body["members"]
    assert {(m["email"], m["status"]) for m in members} == {
        ("owner@example.com", "compliant"),
        ("carol@example.com", "compliant"),
    }


def test_declining_on_the_invitation_page_and_from_settings(page: Page, server: PageServer, stack: Harness) -> None:
    acme, _, acme_id = organization(stack, "owner@example.com", "Acme Corp")
    globex, _, globex_id = organization(stack, "boss@example.com", "Globex")
    stack.sign_up("dave@example.com")
    assert stack.invite(acme_id, acme, "dave@example.com").status == 201
    assert stack.invite(globex_id, globex, "dave@example.com", role="admin").status == 201

    follow(page, invitation_link(stack, "dave@example.com"), server)  # the latest: Globex's
    fill_credentials(page, "dave@example.com", "Sign in")
    expect(page.get_by_role("heading", name="Join Globex")).to_be_visible()
    expect(page.get_by_text("You're invited to join Globex as an admin.")).to_be_visible()
    page.get_by_role("button", name="Decline").click()
    expect(page.get_by_text("You declined the invitation to Globex.")).to_be_visible()
    assert [e["subject"] for e in stack.emails("boss@example.com")][-1] == "dave@example.com declined to join Globex"

    # Settings lists what is still open; declining there asks first.
    invitations = page.get_by_role("region", name="Invitations")
    expect(invitations.get_by_role("row", name=re.compile("Acme Corp Member No"))).to_be_visible()
    expect(invitations.get_by_text("Globex")).to_have_count(0)
    assert_accessible(page, "security, open invitations")
    invitations.get_by_role("button", name="Decline the invitation to Acme Corp").click()
    dialog = page.get_by_role("dialog", name="Decline the invitation?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(invitations).to_be_visible()
    invitations.get_by_role("button", name="Decline the invitation to Acme Corp").click()
    dialog.get_by_role("button", name="Decline").click()
    expect(page.get_by_text("You declined the invitation to Acme Corp.")).to_be_visible()
    expect(page.get_by_role("region", name="Invitations")).to_have_count(0)
    assert stack.get("/v1/me/invitations", token=session_token(page)).body == {"invitations": []}
    expect(page.get_by_text("You are not a member of any organization.")).to_be_visible()


def test_a_link_for_another_address_joins_nobody(page: Page, server: PageServer, stack: Harness) -> None:
    owner, _, org_id = organization(stack, "owner@example.com", "Acme Corp")
    stack.sign_up("bob@example.com")
    stack.sign_up("eve@example.com")
    assert stack.invite(org_id, owner, "bob@example.com").status == 201

    follow(page, invitation_link(stack, "bob@example.com"), server)
    fill_credentials(page, "eve@example.com", "Sign in")
    expect(page.get_by_text("There is no open invitation for the account you are signed in with.")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('aegis.invitation')") is None
    members = stack.get(f"/v1/orgs/{org_id}/members", token=owner).body["members"]
    assert [m["email"] for m in members] == ["owner@example.com"]


def test_a_crafted_organization_name_and_member_address_show_as_text(
    page: Page, server: PageServer, stack: Harness
) -> None:
    crafted = '<img src=x onerror="document.body.dataset.injected=1">'
    owner, secret, org_id = organization(stack, "owner@example.com", crafted)
    # SES refuses to send to such an address, so it is written straight into the table.
    (member,) = population.add_members(org_id, 1, stack.clock.now(), prefix=crafted)
    stack.sign_up("bob@example.com")
    assert stack.invite(org_id, owner, "bob@example.com").status == 201
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    follow(page, invitation_link(stack, "bob@example.com"), server)
    fill_credentials(page, "bob@example.com", "Sign in")
    expect(page.get_by_role("heading", name=f"Join {crafted}")).to_be_visible()
    page.get_by_role("link", name="Security", exact=True).click()
    expect(page.get_by_role("region", name="Invitations").get_by_role("cell", name=crafted, exact=True)).to_be_visible()
    assert page.locator("main img").count() == 0, "a name became markup"

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0, "the emailed token is not kept for the next person"
    sign_in(page, "owner@example.com")
    enter_code(page, Authenticator(secret).code(stack.clock.now()))
    page.get_by_role("link", name=crafted).click()
    expect(page.get_by_role("cell", name=member.email, exact=True)).to_be_visible()
    page.get_by_role("button", name=f"Remove {member.email}").click()
    expect(page.get_by_role("dialog")).to_contain_text(f"{member.email} will no longer be a member of {crafted}.")
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()

    assert page.locator("main img").count() == 0, "a name became markup"
    assert page.evaluate("document.body.dataset.injected") is None
    assert dialogs == []
