"""What the notebooks share: each name here means one thing in every notebook.

Two rules keep the notebooks honest about what they show:

- nothing here moves the clock: every `h.clock.set(...)` or `h.clock.advance(...)` is a line
  of the notebook, where the reader sees it;
- nothing here computes a code with the service's own TOTP code: the user's phone is an
  `Authenticator` (devkit/authenticator.py), an RFC 6238 implementation of its own.

The names:

- `answer(reply)`: what the API said, in one word: an error's code, else the body's `status`,
  else `ok`;
- `hhmmss(epoch)`: a moment as the tables print it (UTC);
- `sign_in(h, email, code=... | backup_code=...)`: a whole sign-in as a client makes it, the
  password step and then the second factor on the challenge it gave; the second step's reply;
- `turn_on_two_factor(h, token)`: start enrollment, scan the QR code's URI into a new
  `Authenticator`, confirm with the code it shows now; the phone and the backup codes;
- `person_with_two_factor(h, email)`: sign up, sign in and turn 2FA on;
- `read_qr(svg)`: what a QR decoder (zbarimg) reads in an SVG picture;
- `subjects(h, to)`, `first_paragraph(email)`: a mailbox as a list of subjects, an email's opening;
- `table_item(h, pk, sk)`: one item exactly as a dump of the table holds it (typed JSON).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from . import qr
from .authenticator import Authenticator
from .harness import PASSWORD, Harness, Reply

VERIFY = "/v1/sessions/verify"


def answer(reply: Reply) -> str:
    """An error's code, else the body's `status`, else `ok`."""
    if reply.status >= 400:
        return str(reply.body["error"]["code"])
    body = reply.body if isinstance(reply.body, dict) else {}
    return str(body.get("status", "ok"))


def hhmmss(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S")


def sign_in(
    h: Harness, email: str, *, code: str | None = None, backup_code: str | None = None, password: str = PASSWORD
) -> Reply:
    """The password step, then exactly one second factor on its challenge: the code step's reply."""
    assert (code is None) != (backup_code is None), "give a code or a backup code"
    password_step = h.sign_in(email, password)
    assert password_step.body.get("status") == "two_factor_required", password_step
    body = {"code": code} if code is not None else {"backup_code": backup_code}
    return h.post(VERIFY, body, token=password_step.body["challenge_token"])


def turn_on_two_factor(h: Harness, token: str) -> tuple[Authenticator, list[str]]:
    """Enroll as a person does: start, scan the QR code's URI, confirm with the code shown now.
    The confirming code is used up: the next sign-in needs the next 30-second step."""
    started = h.post("/v1/me/two-factor/enrollment", token=token)
    assert started.status == 201, started
    phone = Authenticator.scan(started.body["otpauth_uri"])
    confirmed = h.post("/v1/me/two-factor/enrollment/confirm", {"code": phone.code(h.clock.now())}, token=token)
    assert confirmed.status == 200, confirmed
    return phone, list(confirmed.body["backup_codes"])


def person_with_two_factor(h: Harness, email: str) -> tuple[str, Authenticator, list[str]]:
    """A new account with 2FA on: (its session, its phone, its backup codes)."""
    h.sign_up(email)
    session = h.session(email)
    phone, backup_codes = turn_on_two_factor(h, session)
    return session, phone, backup_codes


def read_qr(svg: str) -> str:
    """The text a QR decoder (zbarimg) reads in the SVG picture."""
    return qr.decode(svg.encode(), ".svg")


def subjects(h: Harness, to: str) -> list[str]:
    return [email["subject"] for email in h.emails(to)]


def first_paragraph(email: dict[str, str]) -> str:
    return email["body"].split("\n\n")[0]


def table_item(h: Harness, pk: str, sk: str) -> dict[str, Any] | None:
    """The item as a dump holds it, or None."""
    return next((item for item in h.table_items() if (item["pk"]["S"], item["sk"]["S"]) == (pk, sk)), None)
