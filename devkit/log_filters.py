"""CloudWatch Logs filter patterns for JSON log events, evaluated here, so tests can show that
the template's metric filters match the lines the functions and API Gateway write.

The subset the template uses: `{ <condition> }` where conditions compare a selector with a
value, `$.level = "ERROR"`, `$.status >= 400`, string values may hold `*` wildcards, and
conditions combine with `&&`, `||` and parentheses. Anything else is refused, not guessed.
"""

from __future__ import annotations

import json
import re
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<open>\()|(?P<close>\))|(?P<and>&&)|(?P<or>\|\|)
    |(?P<selector>\$(?:\.[A-Za-z_][A-Za-z0-9_]*)+)
    |(?P<op>!=|>=|<=|=|>|<)
    |(?P<string>"[^"]*")
    |(?P<number>-?[0-9]+(?:\.[0-9]+)?)
    )""",
    re.VERBOSE,
)


def matches(pattern: str, event: dict[str, Any] | str) -> bool:
    """Whether a JSON filter pattern matches one log event (a dict, or the line itself)."""
    if isinstance(event, str):
        try:
            event = json.loads(event)
        except ValueError:
            return False  # a JSON pattern matches JSON events only
        if not isinstance(event, dict):
            return False
    body = pattern.strip()
    if not (body.startswith("{") and body.endswith("}")):
        raise ValueError(f"not a JSON filter pattern: {pattern}")
    tokens = _tokens(body[1:-1])
    result, rest = _disjunction(tokens, event)
    if rest:
        raise ValueError(f"unexpected {rest[0]} in {pattern}")
    return result


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while text[position:].strip():
        found = _TOKEN.match(text, position)
        if not found or found.lastgroup is None:
            raise ValueError(f"cannot read the filter at: {text[position:]}")
        tokens.append((found.lastgroup, found.group(found.lastgroup)))
        position = found.end()
    return tokens


def _disjunction(tokens: list[tuple[str, str]], event: dict[str, Any]) -> tuple[bool, list[tuple[str, str]]]:
    result, tokens = _conjunction(tokens, event)
    while tokens and tokens[0][0] == "or":
        right, tokens = _conjunction(tokens[1:], event)
        result = result or right
    return result, tokens


def _conjunction(tokens: list[tuple[str, str]], event: dict[str, Any]) -> tuple[bool, list[tuple[str, str]]]:
    result, tokens = _condition(tokens, event)
    while tokens and tokens[0][0] == "and":
        right, tokens = _condition(tokens[1:], event)
        result = result and right
    return result, tokens


def _condition(tokens: list[tuple[str, str]], event: dict[str, Any]) -> tuple[bool, list[tuple[str, str]]]:
    if tokens and tokens[0][0] == "open":
        result, tokens = _disjunction(tokens[1:], event)
        if not tokens or tokens[0][0] != "close":
            raise ValueError("unbalanced parentheses")
        return result, tokens[1:]
    if len(tokens) < 3 or tokens[0][0] != "selector" or tokens[1][0] != "op":
        raise ValueError(f"expected `$.field <op> <value>`, found {tokens[:3]}")
    (_, selector), (_, op), (kind, raw) = tokens[:3]
    value: Any = event
    for name in selector.split(".")[1:]:
        value = value.get(name) if isinstance(value, dict) else None
    return _compare(value, op, kind, raw), tokens[3:]


def _compare(value: Any, op: str, kind: str, raw: str) -> bool:
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        number = float(raw)
        return {
            "=": value == number,
            "!=": value != number,
            ">": value > number,
            "<": value < number,
            ">=": value >= number,
            "<=": value <= number,
        }[op]
    if kind != "string" or op not in ("=", "!="):
        raise ValueError(f"cannot compare with {op} {raw}")
    wildcard = re.compile(".*".join(re.escape(part) for part in raw[1:-1].split("*")), re.DOTALL)
    equal = isinstance(value, str) and wildcard.fullmatch(value) is not None
    return equal if op == "=" else not equal
