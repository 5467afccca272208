"""Support-assisted resets.

USER#<uid>  RESET   reset_id, effective_at, requested_by, verification_reference, reason,
                    due_pk/due_sk: in the deadline index until it is completed or cancelled
"""

from __future__ import annotations

from typing import Any

from ..records import ACTIVE, AuditEvent, PendingReset
from . import audit
from .due_index import DueIndex
from .table import Table, condition_check, delete, key, put, update
from .users import profile_key, user_pk


def reset_key(user_id: str) -> dict[str, Any]:
    return key(user_pk(user_id), "RESET")


def reset_of(item: dict[str, Any] | None) -> PendingReset | None:
    if item is None:
        return None
    return PendingReset(item["reset_id"], item["effective_at"], item["requested_by"])


class Resets:
    def __init__(self, table: Table, due_index: DueIndex) -> None:
        self._table = table
        self._due = due_index

    def put_pending_reset(self, user_id: str, reset: PendingReset, details: dict[str, str], event: AuditEvent) -> None:
        """ConditionFailed({'totp'}) if 2FA is not active."""
        item = {
            "pk": user_pk(user_id),
            "sk": "RESET",
            "user_id": user_id,
            "reset_id": reset.reset_id,
            "effective_at": reset.effective_at,
            "requested_by": reset.requested_by,
            **self._due.entry(user_id, reset.effective_at, "RESET"),
            **details,
        }
        self._table.transact(
            [
                (
                    "totp",
                    condition_check(
                        key(user_pk(user_id), "TOTP"), "#status = :active", {":active": ACTIVE}, {"#status": "status"}
                    ),
                ),
                ("reset", put(item)),
                audit.part(event),
            ],
            marker=audit.marker(event),
        )

    def cancel_reset(self, user_id: str, event: AuditEvent) -> None:
        """ConditionFailed({'reset'}) if no reset is pending."""
        self._table.transact(
            [("reset", delete(reset_key(user_id), "attribute_exists(pk)")), audit.part(event)],
            marker=audit.marker(event),
        )

    def complete_reset(self, user_id: str, reset_id: str, epoch: tuple[int, int], event: AuditEvent) -> None:
        """Turn 2FA off as support asked: secret, codes and the reset go together, and every
        session is revoked. ConditionFailed({'reset'}) if it was cancelled or completed."""
        self._table.transact(
            [
                ("reset", delete(reset_key(user_id), "reset_id = :id", {":id": reset_id})),
                ("totp", delete(key(user_pk(user_id), "TOTP"))),
                ("backup", delete(key(user_pk(user_id), "BACKUP"))),
                (
                    "epoch",
                    update(
                        profile_key(user_id),
                        "SET session_epoch = :new, failures = :zero, locked_until = :zero",
                        "session_epoch = :old",
                        {":new": epoch[1], ":old": epoch[0], ":zero": 0},
                    ),
                ),
                audit.part(event),
            ],
            marker=audit.marker(event),
        )
