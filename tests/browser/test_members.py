"""Organization Settings → Security with its members: the counts by status, taken in the
background; the paged member list, filtered by status; role changes, removal and leaving,
with the last-owner refusal shown to the person."""

import re

from playwright.sync_api import Browser, Page, expect

from devkit import population
from devkit.browser import Authenticator, PageServer, assert_accessible, enter_code, organization, sign_in
from devkit.harness import Harness

MINUTE = 60


def open_organization(page: Page, stack: Harness, email: str, secret: str, name: str) -> None:
    sign_in(page, email)
    enter_code(page, Authenticator(secret).code(stack.clock.now()))
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=f"Organization Security: {name}")).to_be_visible()


def count_of(page: Page, label: str) -> str:
    return (
        page.locator(".counts dt", has_text=re.compile(f"^{re.escape(label)}$"))
        .locator("xpath=following-sibling::dd[1]")
        .inner_text()
    )


def shown_members(page: Page) -> list[tuple[str, str]]:
    """(email, status) of each row of the member list as shown."""
    rows = page.locator(".members tbody tr")
    return [(row.locator("td").nth(0).inner_text(), row.locator("td").nth(3).inner_text()) for row in rows.all()]


def test_an_owner_requires_2fa_then_pages_through_250_members_by_status(page: Page, stack: Harness) -> None:
    _, secret, org_id = organization(stack, "owner@example.com", "Acme Corp")
    bulk = population.add_members(org_id, 250, stack.clock.now(), two_factor_every=5, sso_every=7)
    with_2fa = {m.email for m in bulk if m.two_factor}
    sso = {m.email for m in bulk if m.sso}
    owing = {m.email for m in bulk} - with_2fa - sso
    assert (len(with_2fa), len(sso), len(owing)) == (50, 29, 171)
    stack.clock.advance(16 * MINUTE)  # the counts taken at creation are old enough to be taken again

    open_organization(page, stack, "owner@example.com", secret, "Acme Corp")
    counts = page.get_by_role("region", name="Members by status")
    expect(counts).to_contain_text("Counted at Nov 27, 2026, 9:00 AM UTC")
    assert count_of(page, "Not required") == "1", "the tally from before the bulk members came"
    stack.drain()  # the queue worker counts the members
    counts.get_by_role("button", name="Refresh counts").click()
    expect(counts).to_contain_text("Counted at Nov 27, 2026, 9:16 AM UTC")
    assert count_of(page, "Not required") == "251"

    page.get_by_role("switch", name="Require 2FA").click()
    page.get_by_role("dialog").get_by_role("button", name="Require 2FA").click()
    expect(page.get_by_text("2FA is now required.")).to_be_visible()
    expect(counts).to_contain_text("Compliant51Pending171")
    assert [count_of(page, s) for s in ("Compliant", "Pending", "Locked", "Exempt (SSO)", "Not required")] == [
        "51",
        "171",
        "0",
        "29",
        "0",
    ]

    # Unfiltered: 251 members, 50 to a page.
    members = page.get_by_role("region", name="Members")
    expect(members.get_by_role("status").filter(has_text="Page 1")).to_have_text("Page 1: 50 members.")
    assert_accessible(page, "organization security with its member list and counts")

    # Pending: 171 members over four pages, in a stable order, back and forth.
    members.get_by_label("Status").select_option("pending")
    page_info = members.get_by_role("status").filter(has_text=re.compile("^(Page|Loading)"))
    seen: list[tuple[str, str]] = []
    for number, size in enumerate([50, 50, 50, 21], start=1):
        expect(page_info).to_have_text(f"Page {number}: {size} members with status Pending.")
        seen += shown_members(page)
        if number < 4:
            members.get_by_role("button", name="Next page").click()
    expect(members.get_by_role("button", name="Next page")).to_be_disabled()
    expect(members.get_by_role("button", name="Previous page")).to_be_focused()  # not lost with Next
    assert {status for _, status in seen} == {"Pending"}
    assert [email for email, _ in seen] == sorted((email for email, _ in seen), key=lambda e: int(e[1:].split("@")[0]))
    assert {email for email, _ in seen} == owing
    members.get_by_role("button", name="Previous page").click()
    expect(page_info).to_have_text("Page 3: 50 members with status Pending.")
    assert shown_members(page) == seen[100:150]

    # Exempt: the SSO members, on one page; making one of them an admin would make them owe 2FA.
    members.get_by_label("Status").select_option("exempt")
    expect(page_info).to_have_text("Page 1: 29 members with status Exempt (SSO).")
    assert {email for email, _ in shown_members(page)} == sso
    expect(members.get_by_role("button", name="Previous page")).to_be_disabled()
    expect(members.get_by_role("button", name="Next page")).to_be_disabled()
    first = shown_members(page)[0][0]
    members.get_by_label(f"Role of {first}", exact=True).select_option("admin")
    members.get_by_role("button", name=f"Change role of {first}").click()
    expect(members.get_by_role("alert")).to_have_text(re.compile("this change would make the member owe it"))

    members.get_by_label("Status").select_option("locked")
    expect(members.get_by_text("No members with this status.")).to_be_visible()


def test_owners_change_roles_and_remove_admins_remove_members_and_the_last_owner_stays(
    page: Page, browser: Browser, server: PageServer, stack: Harness
) -> None:
    owner, secret, org_id = organization(stack, "owner@example.com", "Acme Corp")
    _, bob_secret, _ = stack.user_with_two_factor("bob@example.com")
    stack.sign_up("carol@example.com")
    assert stack.join(org_id, owner, "bob@example.com").status == 200
    assert stack.join(org_id, owner, "carol@example.com").status == 200
    open_organization(page, stack, "owner@example.com", secret, "Acme Corp")
    members = page.get_by_role("region", name="Members")
    expect(members.get_by_role("row")).to_have_count(4)

    # The owner makes Bob an admin.
    members.get_by_label("Role of bob@example.com", exact=True).select_option("admin")
    members.get_by_role("button", name="Change role of bob@example.com").click()
    expect(members.get_by_role("status").filter(has_text="is now")).to_have_text("bob@example.com is now an admin.")
    expect(members.get_by_role("row", name=re.compile("^bob@example.com Admin"))).to_be_visible()
    assert any(e["to"] == "bob@example.com" for e in stack.emails()), "Bob is told"

    # The last owner can neither step down nor leave; the page says why.
    members.get_by_label("Role of owner@example.com", exact=True).select_option("member")
    members.get_by_role("button", name="Change role of owner@example.com").click()
    expect(members.get_by_role("alert")).to_have_text("An organization must keep at least one owner.")
    members.get_by_role("button", name="Leave Acme Corp").click()
    page.get_by_role("dialog", name="Leave the organization?").get_by_role("button", name="Leave").click()
    expect(members.get_by_role("alert")).to_have_text("An organization must keep at least one owner.")
    expect(members.get_by_role("row", name=re.compile("^owner@example.com Owner"))).to_be_visible()

    # Bob, an admin, removes members but not the owner.
    admin = browser.new_context(base_url=server.url, locale="en-US", timezone_id="UTC").new_page()
    stack.clock.advance(30)
    open_organization(admin, stack, "bob@example.com", bob_secret, "Acme Corp")
    listed = admin.get_by_role("region", name="Members")
    expect(listed.get_by_role("row")).to_have_count(4)
    expect(listed.get_by_role("combobox", name=re.compile("^Role of"))).to_have_count(0)  # only owners change roles
    expect(listed.get_by_role("button", name="Remove owner@example.com")).to_have_count(0)
    listed.get_by_role("button", name="Remove carol@example.com").click()
    dialog = admin.get_by_role("dialog", name="Remove member?")
    expect(dialog).to_contain_text("carol@example.com will no longer be a member of Acme Corp.")
    dialog.get_by_role("button", name="Remove member").click()
    expect(listed.get_by_role("status").filter(has_text="removed")).to_have_text(
        "carol@example.com was removed from Acme Corp."
    )
    expect(listed.get_by_role("row")).to_have_count(3)
    assert [e["subject"] for e in stack.emails("carol@example.com")][-1].startswith("You were removed")

    # Bob leaves from Settings → Security; the owner, the last one, cannot.
    admin.get_by_role("link", name="Security", exact=True).click()
    expect(admin.get_by_role("heading", name="Security", exact=True)).to_be_visible()  # its own Leave button
    admin.get_by_role("button", name="Leave Acme Corp").click()
    admin.get_by_role("dialog").get_by_role("button", name="Leave").click()
    expect(admin.get_by_text("You left Acme Corp.")).to_be_visible()
    expect(admin.get_by_text("You are not a member of any organization.")).to_be_visible()
    admin.context.close()

    page.get_by_role("link", name="Security", exact=True).click()
    expect(page.get_by_role("heading", name="Security", exact=True)).to_be_visible()
    page.get_by_role("button", name="Leave Acme Corp").click()
    page.get_by_role("dialog").get_by_role("button", name="Leave").click()
    organizations = page.get_by_role("region", name="Organizations")
    expect(organizations.get_by_role("alert").first).to_have_text("An organization must keep at least one owner.")
    members_left = stack.get(f"/v1/orgs/{org_id}/members", token=owner).body["members"]
    assert [m["email"] for m in members_left] == ["owner@example.com"]


def test_a_filtered_page_fills_up_from_members_the_api_read_in_later_requests(page: Page, stack: Harness) -> None:
    """With a filter the API reads at most 500 members per request, so it may answer a short
    page and a cursor; the page asks again until it is full or the list ends."""
    owner, secret, org_id = organization(stack, "owner@example.com", "Acme Corp")
    bulk = population.add_members(org_id, 510, stack.clock.now())  # their ids sort before the owner's
    for member in (bulk[10], bulk[505]):
        population.set_two_factor(member.user_id, stack.clock.now())
    assert stack.put(f"/v1/orgs/{org_id}/security", {"require_two_factor": True}, token=owner).status == 200

    open_organization(page, stack, "owner@example.com", secret, "Acme Corp")
    members = page.get_by_role("region", name="Members")
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url) if "status=compliant" in request.url else None)
    members.get_by_label("Status").select_option("compliant")
    expect(members.get_by_role("status").filter(has_text=re.compile("^(Page|Loading)"))).to_have_text(
        "Page 1: 3 members with status Compliant."
    )
    assert {email for email, _ in shown_members(page)} == {"owner@example.com", bulk[10].email, bulk[505].email}
    assert len(asked) == 2 and "cursor=" in asked[1], asked
    expect(members.get_by_role("button", name="Next page")).to_be_disabled()
