"""Time as whole UTC seconds, behind a seam that tests and notebooks control."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> int: ...


class SystemClock:
    def now(self) -> int:
        return int(time.time())


class ManualClock:
    """A clock that moves only when told to; used by tests and notebooks."""

    def __init__(self, start: int | str) -> None:
        self._now = parse_time(start) if isinstance(start, str) else start

    def now(self) -> int:
        return self._now

    def advance(self, seconds: int) -> None:
        self._now += seconds

    def set(self, moment: int | str) -> None:
        self._now = parse_time(moment) if isinstance(moment, str) else moment


def format_time(epoch_seconds: int | None) -> str | None:
    """ISO 8601 UTC ending in Z, as the API promises."""
    if epoch_seconds is None:
        return None
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())
