"""Audit events: who did what to whose second factor or organization, and when.

    AUDIT#<subject>  <time>#<kind>#<event_id>   subject, kind, at, actor, details, event_id

No TTL: audit events are kept. The random event id keeps two events of one kind in one
second apart, and makes each event the marker of the transaction that writes it.
"""

from __future__ import annotations

from typing import Any

from ..records import AuditEvent
from .table import Key, Part, Table, put


def item(event: AuditEvent) -> dict[str, Any]:
    from ..clock import format_time

    return {
        "pk": f"AUDIT#{event.subject}",
        "sk": f"{format_time(event.at)}#{event.kind}#{event.event_id}",
        "subject": event.subject,
        "kind": event.kind,
        "at": event.at,
        "actor": event.actor,
        "details": dict(event.details),
        "event_id": event.event_id,
    }


def part(event: AuditEvent) -> Part:
    return ("audit", put(item(event)))


def marker(event: AuditEvent) -> Key:
    """The event's key: it exists only once the transaction that writes it has committed."""
    written = item(event)
    return written["pk"], written["sk"]


class AuditLog:
    def __init__(self, table: Table) -> None:
        self._table = table

    def record(self, event: AuditEvent) -> None:
        self._table.put(item(event))
