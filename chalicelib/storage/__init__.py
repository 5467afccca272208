"""DynamoDB storage, one module per aggregate over one shared layer (`table`).

One table, string keys `pk`/`sk`, TTL attribute `ttl`, and the sparse index `deadline-index`
(`due_pk`/`due_sk`). Each module documents the items it owns:

- `users`: profiles, email addresses, tokens;
- `password_counters`: wrong passwords per email address, keyed by its hash;
- `second_factors`: TOTP secrets and backup codes;
- `organizations`: organizations and their members;
- `notices`: claims on enforcement notices;
- `support`: support-assisted resets;
- `audit`: audit events;
- `due_index`: what falls due, for the hourly function.

Every security check-and-update is a conditional write or a transaction; a failed
condition surfaces as `ConditionFailed` naming the parts that failed.
"""

from .table import ConditionFailed

__all__ = ["ConditionFailed"]
