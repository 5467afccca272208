"""Request-body rules: JSON objects with exactly the expected fields and types.

Every failure is an `InvalidRequest` (400) or `PayloadTooLarge` (413) with a
message that names only fields we expect, never a value or a name the client sent.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import backup_codes
from .errors import InvalidRequest, PayloadTooLarge

MAX_BODY_BYTES = 16 * 1024
MAX_EMAIL_LENGTH = 320  # 64 for the local part, "@", 255 for the domain
_EMAIL = re.compile(r"[^@]{1,64}@[^@]+\.[^@]+")
# Control, format (zero-width, bidi overrides), surrogate and private-use characters, and every
# kind of space: an address holding one could never be mailed, or would not show as it is.
_NOT_IN_EMAILS = frozenset({"Cc", "Cf", "Cs", "Co", "Zs", "Zl", "Zp"})
_DIGITS = re.compile(r"[0-9]{6}")


@dataclass(frozen=True)
class Field:
    kind: type
    required: bool = True
    min_length: int = 0
    max_length: int = 10_000
    choices: tuple[str, ...] = ()


def parse_body(raw: bytes | None, content_type: str | None, fields: dict[str, Field]) -> dict[str, Any]:
    """The body as a dict of validated fields. An endpoint with no fields accepts an empty body."""
    if raw and len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge()
    if not raw:
        if not fields:
            return {}
        raise InvalidRequest("A JSON body is required.")
    if (content_type or "").split(";")[0].strip().lower() != "application/json":
        raise InvalidRequest("Send the body as JSON with Content-Type: application/json.")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: thousands of nested brackets
        raise InvalidRequest("The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.")
    if set(body) - set(fields):
        # The unknown name is not echoed: it is the client's text, of any length or content.
        raise InvalidRequest(f"Unknown field; expected {', '.join(fields)}." if fields else "Unknown field; send none.")
    for name, field in fields.items():
        if name not in body:
            if field.required:
                raise InvalidRequest(f"Missing field: {name}.")
            continue
        _check(name, body[name], field)
    return body


def _check(name: str, value: Any, field: Field) -> None:
    # bool is an int in Python; JSON true must not pass for a number or vice versa.
    if type(value) is not field.kind:
        raise InvalidRequest(f"Field {name} must be a {_type_name(field.kind)}.")
    if isinstance(value, str):
        if not _is_unicode(value):
            raise InvalidRequest(f"Field {name} must be valid Unicode text.")
        if not field.min_length <= len(value) <= field.max_length:
            raise InvalidRequest(f"Field {name} must be {field.min_length} to {field.max_length} characters.")
        if field.choices and value not in field.choices:
            raise InvalidRequest(f"Field {name} must be one of: {', '.join(field.choices)}.")


def _is_unicode(text: str) -> bool:
    """JSON's \\uD800-style escapes can spell lone surrogates, which no hash, log or database
    can encode."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _type_name(kind: type) -> str:
    return {str: "string", bool: "boolean", int: "number"}.get(kind, kind.__name__)


@dataclass(frozen=True)
class Param:
    """A query parameter: an integer in [minimum, maximum], or text (of `choices`, if given)."""

    kind: type = int
    minimum: int = 0
    maximum: int = 0
    max_length: int = 256
    choices: tuple[str, ...] = ()


_INTEGER = re.compile(r"[0-9]{1,9}")


def query(params: Mapping[str, str] | None, known: dict[str, Param]) -> dict[str, Any]:
    """The query string's parameters, each checked; an unknown or repeated one is refused.
    Messages name only parameters we know, never what the client sent."""
    found: dict[str, Any] = {}
    params = params or {}
    for name, value in params.items():
        param = known.get(name)
        if param is None:
            raise InvalidRequest(f"Unknown query parameter; known: {', '.join(known)}.")
        if len(getattr(params, "getlist", lambda _: [None])(name)) != 1:  # Chalice's MultiDict
            raise InvalidRequest(f"Parameter {name} must be given once.")
        if param.kind is int:
            if not _INTEGER.fullmatch(value) or not param.minimum <= int(value) <= param.maximum:
                raise InvalidRequest(
                    f"Parameter {name} must be a whole number from {param.minimum} to {param.maximum}."
                )
            found[name] = int(value)
        else:
            if not value or len(value) > param.max_length or not _is_unicode(value):
                raise InvalidRequest(f"Parameter {name} is not valid.")
            if param.choices and value not in param.choices:
                raise InvalidRequest(f"Parameter {name} must be one of: {', '.join(param.choices)}.")
            found[name] = value
    return found


def email(value: str) -> str:
    """An address as we store it: lower case. Whitespace (around it too) and control characters
    are refused rather than removed, so what is stored is what the client sent."""
    normalised = value.lower()
    if (
        len(normalised) > MAX_EMAIL_LENGTH
        or any(ch.isspace() or unicodedata.category(ch) in _NOT_IN_EMAILS for ch in value)
        or not _EMAIL.fullmatch(normalised)
    ):
        raise InvalidRequest(f"Field email must be an email address of at most {MAX_EMAIL_LENGTH} characters.")
    return normalised


def totp_code(value: str) -> str:
    """Exactly 6 ASCII digits; spaces inside are ignored."""
    code = value.replace(" ", "")
    if not _DIGITS.fullmatch(code):
        raise InvalidRequest("Field code must be 6 digits.")
    return code


def backup_code(value: str) -> str:
    normalised = backup_codes.normalise(value)
    if normalised is None:
        raise InvalidRequest("Field backup_code must look like XXXXXXXX-XXXXXXXX.")
    return normalised


def exactly_one(body: dict[str, Any], first: str, second: str) -> str:
    present = [name for name in (first, second) if name in body]
    if len(present) != 1:
        raise InvalidRequest(f"Send exactly one of {first} or {second}.")
    return present[0]
