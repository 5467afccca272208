"""The enforcement sweep's cost grows with the members it acts on, not with all members.

`measure_sweep()` builds two tables on moto (in-process, through the same harness as
the tests) and counts the DynamoDB requests of one sweep over each:

- `due` members whose 7-day reminder is due, alone;
- the same `due` members plus `not_due` members who are not: half of them pending with
  their first notice weeks away (in the deadline index, further along it), half with no
  deadline (compliant, exempt or not required: not in the index at all).

Requests are counted with a botocore `before-call.dynamodb` hook on the application's
own cached client, so every API call the sweep makes is seen, whatever the operation.
The two counts should be equal; times are moto's, so only their order of magnitude
means anything.

    .venv/bin/python -m scripts.bench_sweep [NOT_DUE [DUE]]
"""

from __future__ import annotations

import sys
import time
import uuid
from collections import Counter
from typing import Any

DAY = 86400
HOUR = 3600
BATCH_WRITE_LIMIT = 25


def measure_sweep(not_due: int = 10_000, due: int = 50) -> dict[str, Any]:
    alone = _sweep_once(not_due=0, due=due)
    crowded = _sweep_once(not_due=not_due, due=due)
    return {
        "due_members": due,
        "not_due_members": not_due,
        "requests_due_only": alone["requests"],
        "requests_with_not_due": crowded["requests"],
        "requests_equal": alone["requests"] == crowded["requests"],
        "operations_due_only": alone["operations"],
        "operations_with_not_due": crowded["operations"],
        "reminders_sent_due_only": alone["reminders_sent"],
        "reminders_sent_with_not_due": crowded["reminders_sent"],
        "idle_requests_with_not_due": crowded["idle_requests"],
        "ms_per_due_member_due_only": round(alone["seconds"] / due * 1000, 2),
        "ms_per_due_member_with_not_due": round(crowded["seconds"] / due * 1000, 2),
    }


def _sweep_once(not_due: int, due: int) -> dict[str, Any]:
    from chalicelib import aws, wiring
    from devkit.harness import Harness

    with Harness() as h:
        deps = wiring.dependencies()
        _populate(deps, h.clock.now(), not_due=not_due, due=due)

        operations: Counter[str] = Counter()

        def count(model: Any, **_: Any) -> None:
            operations[model.name] += 1

        aws.client("dynamodb").meta.events.register("before-call.dynamodb", count)
        start = time.perf_counter()
        result = h.sweep()
        seconds = time.perf_counter() - start
        counted = dict(sorted(operations.items()))
        # A second run in the same hour has nothing to do: what does doing nothing cost?
        operations.clear()
        idle = h.sweep()
        assert idle["reminders_sent"] == 0, idle
        return {
            "requests": sum(counted.values()),
            "operations": counted,
            "reminders_sent": result["reminders_sent"],
            "idle_requests": sum(operations.values()),
            "seconds": seconds,
        }


def _populate(deps: Any, now: int, not_due: int, due: int) -> None:
    """One Business organization requiring 2FA. Due members are added through the
    repository as the API adds them; the bulk is batch-written in exactly the item
    shape the repository writes for a membership, which keeps setup fast."""
    from chalicelib.organizations import shard_for
    from chalicelib.records import Membership, Organization
    from chalicelib.repository import _dump, _member_item
    from devkit import stack

    shards = deps.settings.deadline_shards
    org_id = str(uuid.UUID(int=1, version=4))
    owner_id = str(uuid.UUID(int=2, version=4))
    deps.repository.create_organization(
        Organization(org_id, "Bench", "business", require_two_factor=True, enforced_at=now - 23 * DAY),
        Membership(
            org_id, owner_id, "owner@bench.test", "owner", False, now - 30 * DAY, shard=shard_for(owner_id, shards)
        ),
    )

    def member(number: int, deadline: int | None) -> Membership:
        user_id = str(uuid.UUID(int=1000 + number, version=4))
        email = f"member{number}@bench.test"
        return Membership(org_id, user_id, email, "member", False, now - DAY, deadline, -1, shard_for(user_id, shards))

    # Due: the 7-day reminder fell due an hour ago.
    for number in range(due):
        deps.repository.add_member(member(number, now + 7 * DAY - HOUR))

    items = [
        _member_item(member(due + number, now + 20 * DAY if number % 2 == 0 else None)) for number in range(not_due)
    ]
    dynamodb = stack.client("dynamodb")
    table = deps.settings.table_name
    for start in range(0, len(items), BATCH_WRITE_LIMIT):
        requests = [{"PutRequest": {"Item": _dump(item)}} for item in items[start : start + BATCH_WRITE_LIMIT]]
        while requests:
            response = dynamodb.batch_write_item(RequestItems={table: requests})
            requests = response.get("UnprocessedItems", {}).get(table, [])


def main(argv: list[str]) -> int:
    arguments = [int(value) for value in argv]
    result = measure_sweep(*arguments)
    for name, value in result.items():
        print(f"{name}: {value}")
    return 0 if result["requests_equal"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
