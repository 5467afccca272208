"""Opaque bearer tokens: 32 random bytes, stored only as their SHA-256.

A token is `<user_id>.<random>`: the user id routes the lookup to the user's
partition (one request for token and profile); the random part is the secret.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid

from .randomness import Randomness

SESSION = "session"
CHALLENGE = "challenge"
ENROLLMENT = "enrollment"

SESSION_SECONDS = 12 * 3600
CHALLENGE_SECONDS = 5 * 60
ENROLLMENT_SECONDS = 15 * 60
LIFETIMES = {SESSION: SESSION_SECONDS, CHALLENGE: CHALLENGE_SECONDS, ENROLLMENT: ENROLLMENT_SECONDS}

_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TOKEN = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([A-Za-z0-9_-]{43})$")


def new_id(randomness: Randomness) -> str:
    return str(uuid.UUID(bytes=randomness.token_bytes(16), version=4))


def new_token(user_id: str, randomness: Randomness) -> str:
    secret = base64.urlsafe_b64encode(randomness.token_bytes(32)).decode().rstrip("=")
    return f"{user_id}.{secret}"


def new_secret_token(randomness: Randomness) -> str:
    """32 random bytes, URL-safe: a token that names no user (an invitation's)."""
    return base64.urlsafe_b64encode(randomness.token_bytes(32)).decode().rstrip("=")


def is_id(text: str) -> bool:
    """Whether `text` has the shape of the ids this service makes (users, organizations)."""
    return _ID.fullmatch(text) is not None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_token(token: str) -> tuple[str, str] | None:
    """(user_id, hash) of a well-formed token, else None."""
    match = _TOKEN.match(token)
    if not match:
        return None
    return match.group(1), token_hash(token)
