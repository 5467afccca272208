"""An authenticator app of our own: RFC 6238 (SHA1, 6 digits, 30-second steps) in a few lines
of `hmac` and `struct`, sharing no code with the service, which computes codes with pyotp.

The browser tests, `make screenshots` and the notebooks play the user's phone with it, so a
code the service accepts is a code any standard TOTP app would show. Notebook 01 checks it
against the test vectors printed in RFC 6238 itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from urllib.parse import parse_qs, urlparse

STEP_SECONDS = 30
DIGITS = 6


class Authenticator:
    """An authenticator app holding one secret (base32, as the QR code or setup key gives it)."""

    def __init__(self, secret: str) -> None:
        self.secret = secret

    @classmethod
    def scan(cls, otpauth_uri: str) -> Authenticator:
        """What an app does with a scanned QR code: take the secret out of the otpauth URI."""
        uri = urlparse(otpauth_uri)
        assert uri.scheme == "otpauth" and uri.netloc == "totp", otpauth_uri
        return cls(parse_qs(uri.query)["secret"][0])

    def code(self, at: int, digits: int = DIGITS) -> str:
        """The code the app shows at `at` (epoch seconds)."""
        key = base64.b32decode(self.secret + "=" * (-len(self.secret) % 8))
        digest = hmac.new(key, struct.pack(">Q", at // STEP_SECONDS), hashlib.sha1).digest()
        offset = digest[-1] & 0x0F
        number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
        return f"{number % 10**digits:0{digits}d}"
