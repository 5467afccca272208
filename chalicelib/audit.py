"""Audit events: who did what to whose second factor, and when."""

from __future__ import annotations

from . import tokens
from .dependencies import Dependencies
from .records import AuditEvent


def audit_event(
    deps: Dependencies, subject: str, kind: str, actor: str | None = None, details: dict[str, str] | None = None
) -> AuditEvent:
    """An event about `subject` (a user or an organization), by `actor` (default: the subject)."""
    return AuditEvent(
        subject, kind, deps.clock.now(), actor or subject, dict(details or {}), tokens.new_id(deps.randomness)
    )
