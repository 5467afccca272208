"""Claims on enforcement notices: each notice goes to each member once.

    NOTICE#<uid>  <deadline>#<stage>   claim_id, org_id, claimed_at, ttl

The queue worker claims a notice with a conditional put before it sends the email, so two
workers, a message delivered twice, or two hourly runs cannot send it twice; if the email
fails the claim is deleted and the message retried. The claim is keyed by the deadline,
not the organization: a member of several enforcing organizations whose deadlines fall
at the same moment gets one series, and one series per organization where they differ.
"""

from __future__ import annotations

from .. import enforcement
from .table import ConditionFailed, Table, dump, dump_values, key

CLAIM_KEPT_DAYS = 7  # after the deadline; then TTL removes the claim


def _sort_key(deadline: int, stage: int) -> str:
    return f"{deadline:012d}#{stage}"


class Notices:
    def __init__(self, table: Table) -> None:
        self._table = table

    def claim(self, user_id: str, deadline: int, stage: int, org_id: str, claim_id: str, now: int) -> bool:
        """True if this caller may send the notice. `claim_id` is new for each attempt, so a retry
        of this same write after a timeout still wins, while any other attempt loses."""
        try:
            self._table.conditional(
                "PutItem",
                "notice",
                Item=dump(
                    {
                        "pk": f"NOTICE#{user_id}",
                        "sk": _sort_key(deadline, stage),
                        "claim_id": claim_id,
                        "org_id": org_id,
                        "claimed_at": now,
                        "ttl": deadline + CLAIM_KEPT_DAYS * enforcement.DAY,
                    }
                ),
                ConditionExpression="attribute_not_exists(pk) OR claim_id = :claim",
                ExpressionAttributeValues=dump_values({":claim": claim_id}),
            )
        except ConditionFailed:
            return False
        return True

    def release(self, user_id: str, deadline: int, stage: int, claim_id: str) -> None:
        """Give up a claim whose email was not sent, so a retry sends it."""
        try:
            self._table.conditional(
                "DeleteItem",
                "notice",
                Key=key(f"NOTICE#{user_id}", _sort_key(deadline, stage)),
                ConditionExpression="claim_id = :claim",
                ExpressionAttributeValues=dump_values({":claim": claim_id}),
            )
        except ConditionFailed:
            return  # not ours any more: nothing to give up
