"""TOTP rules (RFC 6238): SHA1, 6 digits, 30-second steps, one step of drift each way.

Pure functions of the secret and the server's time; no I/O. Replay protection
is the caller's conditional write on the last accepted step.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from .config import ISSUER
from .randomness import Randomness

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1  # one step each way: codes up to 30 seconds old (or early) are accepted
SECRET_BYTES = 20  # 160 bits, RFC 4226's recommended key length


def new_secret(randomness: Randomness) -> str:
    """A base32 secret without padding, as authenticator apps expect."""
    return base64.b32encode(randomness.token_bytes(SECRET_BYTES)).decode().rstrip("=")


def time_step(epoch_seconds: int) -> int:
    return epoch_seconds // STEP_SECONDS


def code_for_step(secret: str, step: int, digits: int = DIGITS, digest: str = "sha1") -> str:
    import pyotp

    code: str = pyotp.TOTP(secret, digits=digits, digest=getattr(hashlib, digest)).at(step * STEP_SECONDS)
    return code


def matching_step(
    secret: str,
    code: str,
    now: int,
    *,
    after_step: int | None = None,
    digits: int = DIGITS,
    digest: str = "sha1",
) -> int | None:
    """The time step whose code equals `code`, within the drift window and later
    than `after_step` (the last accepted step), or None."""
    current = time_step(now)
    for step in range(max(0, current - DRIFT_STEPS), current + DRIFT_STEPS + 1):  # no step before 1970
        if after_step is not None and step <= after_step:
            continue
        if hmac.compare_digest(code_for_step(secret, step, digits, digest), code):
            return step
    return None


def provisioning_uri(secret: str, account_email: str) -> str:
    """The Key URI Format every authenticator app reads; SHA1, 6 digits and 30 seconds
    are that format's defaults, so they are left out."""
    import pyotp

    return pyotp.TOTP(secret).provisioning_uri(name=account_email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """An SVG QR code of `uri` (no Pillow needed, which keeps the Lambda package small)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    svg: str = image.to_string(encoding="unicode")
    return svg
