"""Concurrent requests with the worst interleaving forced (DESIGN.md "Tests").

moto is not thread-safe, so the requests do not really run at once. Each runs in its own
thread while holding one lock; at the write that decides who wins, it gives the lock up and
waits at a barrier until every request has arrived there, that is, until all of them have
read the same state. Then the writes go through one at a time, in the order the requests
were given, so a test can choose which one comes first. Exactly one may win.

Used by the race tests and by the notebooks' forced-race cells.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from chalicelib.storage.audit import AuditLog
from chalicelib.storage.invitations import Invitations
from chalicelib.storage.notices import Notices
from chalicelib.storage.organizations import Organizations
from chalicelib.storage.password_counters import PasswordCounters
from chalicelib.storage.second_factors import SecondFactors
from chalicelib.storage.support import Resets
from chalicelib.storage.users import Users

STORES = (Users, PasswordCounters, SecondFactors, Organizations, Invitations, Notices, Resets, AuditLog)


def store_defining(method: str) -> type:
    """The storage class whose method this is: races name the decisive writes by method."""
    owners = [store for store in STORES if method in vars(store)]
    assert len(owners) == 1, f"{method} is not the method of exactly one store"
    return owners[0]


class WorstInterleaving:
    """`race = WorstInterleaving(patch, 2, "sign_in_with_second_factor")`, then
    `race.run(request_a, request_b)`. `patch` sets attributes for the test's duration:
    pytest's `monkeypatch.setattr`, or `patched()` below."""

    def __init__(self, patch: Any, parties: int, *methods: str) -> None:
        self.parties = parties
        self.arrived = 0
        self._gate = threading.Lock()
        self._barrier = threading.Barrier(parties, timeout=10)
        self._turn = 0
        self._turns = threading.Condition()
        self._over = False
        self._local = threading.local()
        setattr_ = patch.setattr if hasattr(patch, "setattr") else patch
        for name in methods:
            store = store_defining(name)
            setattr_(store, name, self._gated(getattr(store, name)))

    def _gated(self, write: Callable[..., Any]) -> Callable[..., Any]:
        def gated(store: Any, *args: Any, **kwargs: Any) -> Any:
            # Only a request's first decisive write waits, and only during the race.
            if not self._over and not getattr(self._local, "waited", False) and hasattr(self._local, "index"):
                self._local.waited = True
                self.arrived += 1
                self._gate.release()
                try:
                    self._barrier.wait()
                    with self._turns:
                        assert self._turns.wait_for(lambda: self._turn == self._local.index, timeout=10)
                finally:
                    self._gate.acquire()
            return write(store, *args, **kwargs)

        return gated

    def run(self, *requests: Callable[[], Any]) -> list[Any]:
        assert len(requests) == self.parties
        replies: list[Any] = [None] * len(requests)
        errors: list[BaseException] = []

        def worker(index: int, request: Callable[[], Any]) -> None:
            self._local.index = index
            try:
                with self._gate:
                    replies[index] = request()
            except BaseException as error:  # reported to the caller below
                errors.append(error)
            finally:
                with self._turns:
                    self._turn += 1
                    self._turns.notify_all()

        threads = [threading.Thread(target=worker, args=(i, r)) for i, r in enumerate(requests)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        self._over = True
        if errors:
            raise errors[0]
        assert self.arrived == self.parties, "not every request reached the write: the race was not forced"
        return replies


@contextmanager
def patched() -> Iterator[Callable[[Any, str, Any], None]]:
    """`setattr` that is undone on leaving: for notebooks, which have no monkeypatch."""
    undo: list[tuple[Any, str, Any]] = []

    def set_attribute(owner: Any, name: str, value: Any) -> None:
        undo.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    try:
        yield set_attribute
    finally:
        for owner, name, value in reversed(undo):
            setattr(owner, name, value)
