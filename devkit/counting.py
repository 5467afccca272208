"""Counting the AWS requests the application makes, for tests and `make bench`.

A botocore `before-call` hook on the application's own cached clients sees every API
call, whatever the operation; retries by the SDK are one call.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SERVICES = ("dynamodb", "kms", "ses", "sqs")


class RequestCounter:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()  # by service
        self.operations: Counter[str] = Counter()  # by "service.Operation"
        self._attached: set[int] = set()

    def attach(self) -> None:
        """Hook the application's clients; call again after `wiring.reset()` made new ones."""
        from chalicelib import aws

        for service in SERVICES:
            client = aws.client(service)
            if id(client) not in self._attached:
                client.meta.events.register(f"before-call.{service}", self._count)
                self._attached.add(id(client))

    def _count(self, model: Any, **_: Any) -> None:
        service = model.service_model.service_name
        self.calls[service] += 1
        self.operations[f"{service}.{model.name}"] += 1

    @contextmanager
    def measure(self) -> Iterator[Counter[str]]:
        """`with counter.measure() as calls:` counts, by service and by operation, the calls
        made inside the block (the Counter is filled when the block ends)."""
        self.attach()
        self.calls.clear()
        self.operations.clear()
        result: Counter[str] = Counter()
        yield result
        result.update(self.calls)
        result.update(self.operations)
