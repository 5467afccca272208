"""2FA in the browser: enabling it from the QR code on the screen, the backup codes,
signing in with a code or a backup code, regenerating, disabling, and the lockout."""

import re
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, expect

from devkit.browser import Authenticator, enter_code, read_qr, sign_in
from devkit.harness import Harness

BACKUP_CODE = re.compile(r"^[0-9A-Z]{8}-[0-9A-Z]{8}$")


def shown_backup_codes(page: Page) -> list[str]:
    expect(page.get_by_role("heading", name="Save your backup codes")).to_be_visible()
    codes = page.locator(".codes li").all_inner_texts()
    assert len(codes) == 8 and all(BACKUP_CODE.match(code) for code in codes), codes
    return codes


def confirm_saved(page: Page) -> None:
    page.get_by_label("I have saved my backup codes").check()
    page.get_by_role("button", name="Done").click()


def signed_in_with_2fa(page: Page, stack: Harness, email: str) -> tuple[Authenticator, list[str]]:
    _, secret, codes = stack.user_with_two_factor(email)
    app = Authenticator(secret)
    sign_in(page, email)
    enter_code(page, app.code(stack.clock.now()))
    expect(page.get_by_text("2FA is on")).to_be_visible()
    stack.clock.advance(30)  # the next code is a new one
    return app, codes


def test_enable_2fa_by_scanning_the_qr_code_then_save_the_backup_codes(
    page: Page, context: BrowserContext, stack: Harness
) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    stack.sign_up("alice@example.com")
    sign_in(page, "alice@example.com")
    page.get_by_role("button", name="Enable 2FA").click()

    qr = page.get_by_role("img", name="QR code for your authenticator app")
    expect(qr).to_be_visible()
    assert qr.get_attribute("src").startswith("blob:"), "the SVG is shown as an image, not inserted as markup"
    uri = read_qr(qr.screenshot())
    assert uri.startswith("otpauth://totp/AegisRunner:alice%40example.com?"), uri
    app = Authenticator.scan(uri)
    setup_key = page.locator(".setup-key code").inner_text()
    assert setup_key.replace(" ", "") == app.secret
    page.get_by_role("button", name="Copy", exact=True).click()
    assert page.evaluate("navigator.clipboard.readText()") == app.secret

    code = page.get_by_label("Authentication code")
    assert code.get_attribute("autocomplete") == "one-time-code"
    assert code.get_attribute("inputmode") == "numeric"
    enter_code(page, app.code(stack.clock.now()))
    codes = shown_backup_codes(page)

    with page.expect_download() as download:
        page.get_by_role("button", name="Download codes").click()
    assert download.value.suggested_filename.endswith(".txt")
    saved = Path(download.value.path()).read_text()
    assert [line for line in saved.splitlines() if BACKUP_CODE.match(line)] == codes
    assert "alice@example.com" in saved
    page.get_by_role("button", name="Copy codes").click()
    assert page.evaluate("navigator.clipboard.readText()").split() == codes

    # Leaving before confirming asks first (the browser's dialog, here answered "stay").
    questions: list[str] = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.get_by_role("link", name="Support").click()
    expect(page.get_by_role("heading", name="Save your backup codes")).to_be_visible()
    assert questions and "shown only once" in questions[0]
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_role("alert").filter(has_text="Confirm that you saved")).to_be_visible()
    confirm_saved(page)

    expect(page.get_by_text("2FA is on")).to_be_visible()
    expect(page.get_by_text("Backup codes left: 8 of 8.")).to_be_visible()
    assert stack.get("/v1/me/security", token=page.evaluate("sessionStorage.getItem('aegis.session')")).body[
        "two_factor"
    ]["enabled"]


def test_sign_in_with_a_code_then_with_a_backup_code(page: Page, stack: Harness) -> None:
    app, codes = signed_in_with_2fa(page, stack, "alice@example.com")
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, "alice@example.com")
    expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
    expect(page.get_by_label("Authentication code")).to_be_focused()
    enter_code(page, "000000" if app.code(stack.clock.now()) != "000000" else "111111")
    expect(page.get_by_role("alert")).to_have_text("The code is not valid.")
    enter_code(page, app.code(stack.clock.now()))
    expect(page.get_by_role("heading", name="Security", exact=True)).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, "alice@example.com")
    page.get_by_role("button", name="Use a backup code").click()
    expect(page.get_by_label("Authentication code")).to_be_hidden()
    page.get_by_label("Backup code").fill(codes[0].lower())
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("Backup codes left: 7 of 8.")).to_be_visible()


def test_regenerate_backup_codes_then_disable_2fa_with_one_of_them(page: Page, stack: Harness) -> None:
    app, old_codes = signed_in_with_2fa(page, stack, "alice@example.com")

    page.get_by_role("button", name="Regenerate backup codes").click()
    expect(page.get_by_text("New codes replace all your previous backup codes.")).to_be_visible()
    enter_code(page, app.code(stack.clock.now()), button="Regenerate")
    new_codes = shown_backup_codes(page)
    assert not set(new_codes) & set(old_codes)
    confirm_saved(page)
    expect(page.get_by_text("Backup codes left: 8 of 8.")).to_be_visible()

    page.get_by_role("button", name="Disable 2FA").click()
    page.get_by_role("button", name="Use a backup code").click()
    page.get_by_label("Backup code").fill(old_codes[0])
    page.get_by_role("button", name="Disable", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("The code is not valid.")
    page.get_by_label("Backup code").fill(new_codes[0])
    page.get_by_role("button", name="Disable", exact=True).click()
    expect(page.get_by_text("2FA is off.", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Enable 2FA")).to_be_visible()


def test_disable_2fa_with_a_code(page: Page, stack: Harness) -> None:
    app, _ = signed_in_with_2fa(page, stack, "alice@example.com")
    page.get_by_role("button", name="Disable 2FA").click()
    enter_code(page, app.code(stack.clock.now()), button="Disable")
    expect(page.get_by_text("2FA is off. Your other sessions were signed out.")).to_be_visible()


def test_five_wrong_codes_then_a_countdown_before_the_next_try(page: Page, stack: Harness) -> None:
    _, secret, _ = stack.user_with_two_factor("alice@example.com")
    app = Authenticator(secret)
    page.clock.install()  # the page's timers, so the test need not wait a minute
    sign_in(page, "alice@example.com")
    right = app.code(stack.clock.now())
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(5):
        with page.expect_response("**/v1/sessions/verify") as answer:
            enter_code(page, wrong)
        assert answer.value.status == 401

    enter_code(page, right)  # refused unchecked while the lockout lasts
    expect(page.get_by_role("alert")).to_have_text("Too many wrong codes. Wait before trying again.")
    expect(page.get_by_role("timer")).to_have_text("Try again in 60 seconds.")
    verify = page.get_by_role("button", name="Verify")
    expect(verify).to_be_disabled()
    page.clock.run_for(5_000)
    expect(page.get_by_role("timer")).to_have_text("Try again in 55 seconds.")

    stack.clock.advance(60)
    page.clock.run_for(55_000)
    expect(verify).to_be_enabled()
    expect(page.get_by_role("timer")).to_be_hidden()
    enter_code(page, app.code(stack.clock.now()))
    expect(page.get_by_role("heading", name="Security", exact=True)).to_be_visible()


def test_sign_in_with_2fa_by_keyboard_alone(page: Page, stack: Harness) -> None:
    _, secret, _ = stack.user_with_two_factor("alice@example.com")
    page.goto("/")
    email = page.get_by_label("Email")
    expect(email).to_be_focused()
    page.keyboard.type("alice@example.com")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type("correct horse battery staple")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    page.keyboard.press("Enter")

    code = page.get_by_label("Authentication code")
    expect(code).to_be_focused()
    page.keyboard.type(Authenticator(secret).code(stack.clock.now()))
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Verify")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Security", exact=True)).to_be_focused()
    # Every control of the signed-in page is reachable with Tab.
    reached = set()
    for _ in range(30):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("document.activeElement.textContent.trim()"))
    assert {"Sign out", "Regenerate backup codes", "Disable 2FA", "Create organization"} <= reached
