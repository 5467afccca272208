"""`make screenshots`: the main pages as a person sees them, written to docs/.

Drives the pages in Debian's Chromium against the app on moto, as the browser tests do,
with a fixed clock and seeded randomness so that the pictures change only when the pages do.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
DAY = 24 * 3600


def main() -> int:
    from playwright.sync_api import expect, sync_playwright

    from chalicelib.admin import grant_support
    from devkit import population
    from devkit.browser import Authenticator, PageServer, enter_code, invitation_link, launch, missing_tools, sign_in
    from devkit.harness import PASSWORD, Harness

    problem = missing_tools()
    if problem:
        print(f"make screenshots needs Debian's Chromium and zbarimg: {problem}", file=sys.stderr)
        return 1
    DOCS.mkdir(exist_ok=True)
    with Harness(seed="screenshots") as h:
        from app import app

        with PageServer(app) as server, sync_playwright() as playwright:
            os.environ["AEGIS_WEB_URL"] = server.url  # invitation emails link to these pages
            browser = launch(playwright)

            def new_page() -> Any:
                context = browser.new_context(
                    base_url=server.url, viewport={"width": 1000, "height": 720}, locale="en-US", timezone_id="UTC"
                )
                return context.new_page()

            def shot(page: Any, name: str) -> None:
                page.screenshot(path=DOCS / f"{name}.png", full_page=True, animations="disabled", caret="hide")
                print(f"docs/{name}.png")

            # Alice creates an account and turns 2FA on.
            page = new_page()
            page.goto("/")
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
            shot(page, "sign-in")
            page.get_by_role("link", name="Create account").click()
            page.get_by_label("Email").fill("alice@example.com")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Create account").click()
            page.get_by_role("button", name="Enable 2FA").click()
            expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
            shot(page, "enable-2fa")
            alice = Authenticator(page.locator(".setup-key code").inner_text().replace(" ", ""))
            enter_code(page, alice.code(h.clock.now()))
            expect(page.get_by_role("heading", name="Save your backup codes")).to_be_visible()
            shot(page, "backup-codes")
            page.get_by_label("I have saved my backup codes").check()
            page.get_by_role("button", name="Done").click()
            expect(page.get_by_text("Backup codes left: 8 of 8.")).to_be_visible()

            # She creates an organization with Bob and a dozen others in it and requires 2FA.
            page.get_by_label("Organization name").fill("Acme Corp")
            page.get_by_label("Plan").select_option("business")
            page.get_by_role("button", name="Create organization").click()
            expect(page.get_by_role("heading", name="Organization Security: Acme Corp")).to_be_visible()
            org_id = page.url.rsplit("/", 1)[-1]
            alice_token = page.evaluate("sessionStorage.getItem('aegis.session')")
            alice_id = h.get("/v1/me/security", token=alice_token).body["user_id"]
            h.sign_up("bob@example.com")
            assert h.join(org_id, alice_token, "bob@example.com").status == 200
            population.add_members(org_id, 12, h.clock.now(), two_factor_every=3, sso_every=4)
            page.reload()
            page.get_by_role("switch", name="Require 2FA").click()
            expect(page.get_by_role("dialog")).to_be_visible()
            page.get_by_role("dialog").screenshot(path=DOCS / "require-2fa.png", animations="disabled")
            print("docs/require-2fa.png")
            page.get_by_role("dialog").get_by_role("button", name="Require 2FA").click()
            expect(page.get_by_role("switch", name="Require 2FA")).to_have_attribute("aria-checked", "true")

            # A quarter of an hour later the counts are taken again in the background.
            h.clock.advance(16 * 60)
            page.reload()
            expect(page.get_by_role("region", name="Members by status")).to_contain_text("9:00 AM UTC")
            h.drain()
            page.get_by_role("button", name="Refresh counts").click()
            expect(page.get_by_role("region", name="Members by status")).to_contain_text("9:16 AM UTC")
            expect(page.get_by_role("status").filter(has_text="Page 1")).to_have_text("Page 1: 14 members.")
            shot(page, "organization")
            page.get_by_role("link", name="Security", exact=True).click()
            expect(page.get_by_role("link", name="Acme Corp")).to_be_visible()
            shot(page, "security")

            # Carol follows the link in her invitation email and signs in.
            h.sign_up("carol@example.com")
            assert h.invite(org_id, alice_token, "carol@example.com").status == 201
            carol = new_page()
            carol.goto(invitation_link(h, "carol@example.com"))
            carol.get_by_label("Email").fill("carol@example.com")
            carol.get_by_label("Password").fill(PASSWORD)
            carol.get_by_role("button", name="Sign in").click()
            expect(carol.get_by_role("heading", name="Join Acme Corp")).to_be_visible()
            shot(carol, "invitation")

            # Signing in again asks for the code.
            page.get_by_role("button", name="Sign out").click()
            h.clock.advance(30)
            sign_in(page, "alice@example.com")
            expect(page.get_by_label("Authentication code")).to_be_focused()
            shot(page, "two-factor-prompt")

            # Bob's grace period ends: signing in goes straight into enrollment.
            h.clock.advance(31 * DAY)
            bob = new_page()
            sign_in(bob, "bob@example.com")
            expect(bob.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
            shot(bob, "enrollment-required")

            # Support asks for a reset of Alice's 2FA.
            h.sign_up("support@example.com")
            grant_support("support@example.com")
            support = new_page()
            sign_in(support, "support@example.com")
            support.get_by_role("link", name="Support").click()
            support.get_by_label("User ID").fill(alice_id)
            support.get_by_label("Verification reference").fill("Ticket 4711: passport checked on a video call")
            support.get_by_label("Reason").fill("Lost phone and backup codes")
            expect(support.get_by_role("button", name="Request reset")).to_be_visible()
            shot(support, "support")
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
