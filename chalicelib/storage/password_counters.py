"""Wrong-password counters, one per email address, and the password step's first read.

LOGIN#<digest>  COUNTER   failures (consecutive wrong passwords), paused_until, notified_at (when
                          the owner was last emailed of a pause), failure_id (the last counted
                          attempt, so a retried write counts once), ttl (a day after the last wrong
                          password's pause ends; readers treat an item past it as absent)

<digest> is `passwords.email_digest(email)`: the counter of an address that has no account
looks exactly like one that has, and the address itself is never stored.
"""

from __future__ import annotations

from typing import Any

from ..passwords import WrongPasswordCount, email_digest
from ..records import PasswordCounter
from .table import Key, Part, Table, dump_values, key, update
from .users import email_key


def counter_key(email: str) -> Key:
    return (f"LOGIN#{email_digest(email)}", "COUNTER")


class PasswordCounters:
    def __init__(self, table: Table) -> None:
        self._table = table

    def lookup(self, email: str, now: int) -> tuple[str | None, PasswordCounter]:
        """The account's user id (None if there is none) and the address's counter: one request,
        the same for an address with an account and one without."""
        found = self._table.batch_get([email_key(email), counter_key(email)])
        account = found.get(email_key(email))
        return (account["user_id"] if account else None), counter_of(found.get(counter_key(email)), now)

    def get(self, email: str, now: int) -> PasswordCounter:
        return counter_of(self._table.get(*counter_key(email)), now)

    def record_wrong_password(
        self, email: str, seen: PasswordCounter, count: WrongPasswordCount, now: int, attempt_id: str
    ) -> None:
        """Count one wrong password if nobody counted since we read `seen` and no pause runs;
        ConditionFailed({'counter'}) otherwise. `attempt_id` makes a retry of this same write,
        after a timeout that hid its success, count once."""
        unchanged = (
            "attribute_not_exists(pk)"
            if seen.stored_failures is None
            else "(failures = :seen AND paused_until <= :now)"
        )
        values: dict[str, Any] = {
            ":failures": count.failures,
            ":paused_until": count.paused_until,
            ":notified_at": count.notified_at,
            ":attempt": attempt_id,
            ":forget_at": count.forget_at,
        }
        if seen.stored_failures is not None:
            values.update({":seen": seen.stored_failures, ":now": now})
        pk, sk = counter_key(email)
        self._table.conditional(
            "UpdateItem",
            "counter",
            Key=key(pk, sk),
            UpdateExpression=(
                "SET failures = :failures, paused_until = :paused_until, notified_at = :notified_at, "
                "failure_id = :attempt, #ttl = :forget_at"
            ),
            ConditionExpression=f"{unchanged} OR failure_id = :attempt",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues=dump_values(values),
        )


def reset_part(email: str, now: int) -> Part:
    """A correct password clears the count, unless a pause began since it was read (the part
    then fails as 'counter'). The item stays, with `notified_at`, until its TTL."""
    pk, sk = counter_key(email)
    return (
        "counter",
        update(
            key(pk, sk),
            "SET failures = :zero, paused_until = :zero",
            "paused_until <= :now",
            {":zero": 0, ":now": now},
        ),
    )


def counter_of(item: dict[str, Any] | None, now: int) -> PasswordCounter:
    if item is None:
        return PasswordCounter()
    if item.get("ttl", 0) <= now:  # DynamoDB deletes expired items late
        return PasswordCounter(notified_at=item.get("notified_at", 0), stored_failures=item["failures"])
    return PasswordCounter(
        failures=item["failures"],
        paused_until=item["paused_until"],
        notified_at=item["notified_at"],
        stored_failures=item["failures"],
    )
