"""The deadline index: a sparse global secondary index of what falls due.

    due_pk = DUE#<shard>   due_sk = <time, 12 digits>#<ORG|RESET>#<id>

Only two kinds of item carry these attributes, and only while something is ahead of them:
an organization whose next notice stage is ahead (`ORG#<oid>`/`ORG`), and a pending
support reset (`USER#<uid>`/`RESET`). An organization is one entry whatever its size, so
the hourly function reads only what is due and its cost grows with the work it must do.
The shards spread the entries over a few partitions.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..records import DueEntry
from .table import DEADLINE_INDEX, Table, due_sort_key


class DueIndex:
    def __init__(self, table: Table, shards: int) -> None:
        self._table = table
        self.shards = shards

    def entry(self, entity_id: str, at: int, kind: str) -> dict[str, str]:
        """The attributes that put an item in the index, due at `at`."""
        return {"due_pk": f"DUE#{self.shard(entity_id)}", "due_sk": due_sort_key(at, f"{kind}#{entity_id}")}

    def shard(self, entity_id: str) -> int:
        """Stable per id, spread evenly."""
        return int(hashlib.sha256(entity_id.encode()).hexdigest()[:8], 16) % self.shards

    def due(self, shard: int, now: int) -> list[DueEntry]:
        """Everything in the shard that is due at `now`, oldest first, every page of it."""
        from .organizations import organization_of

        entries = []
        for item in self._table.query(
            IndexName=DEADLINE_INDEX,
            KeyConditionExpression="due_pk = :shard AND due_sk < :upper",
            ExpressionAttributeValues={":shard": {"S": f"DUE#{shard}"}, ":upper": {"S": due_sort_key(now + 1, "")}},
        ):
            entries.append(_entry(item, organization_of))
        return entries


def _entry(item: dict[str, Any], organization_of: Any) -> DueEntry:
    if item["sk"] == "RESET":
        return DueEntry(reset_user_id=item["user_id"])
    return DueEntry(org=organization_of(item))
