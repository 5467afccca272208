"""Invitations to organizations, and the limits on sending them.

    INVITE#<email>  ORG#<oid>            org_id, email, role, sso, token_hash (SHA-256 of the
                                         single-use token only the email carries), invited_by,
                                         expires_at, ttl
    RATE#<scope>    <window start>       count: invitations sent by an organization in a day,
                                         or by one inviter in an hour (ttl)

Keyed by the invited address, so `GET /v1/me/invitations` is one query and inviting again
replaces the invitation (and its token). DynamoDB deletes an expired invitation late: readers
check expires_at. Accepting deletes the invitation in the transaction that adds the member.
"""

from __future__ import annotations

from typing import Any

from ..records import AuditEvent, Invitation, Membership
from . import audit
from .organizations import member_item, membership_guard_part
from .table import Part, Table, delete, key, put, update
from .users import join_part


def invitation_key(email: str, org_id: str) -> dict[str, Any]:
    return key(f"INVITE#{email}", f"ORG#{org_id}")


class Invitations:
    def __init__(self, table: Table) -> None:
        self._table = table

    def put_invitation(
        self, invitation: Invitation, limits: list[tuple[str, int, int, int]], event: AuditEvent
    ) -> None:
        """Store (or replace) the invitation, counting it against each limit: (scope, window
        start, window end, most allowed). ConditionFailed({'limit:<scope>'}) past a limit."""
        parts: list[Part] = [("invitation", put(_invitation_item(invitation)))]
        for scope, start, end, most in limits:
            parts.append(
                (
                    f"limit:{scope}",
                    update(
                        key(f"RATE#{scope}", str(start)),
                        "ADD #count :one SET #ttl = :end",
                        "attribute_not_exists(#count) OR #count < :most",
                        {":one": 1, ":end": end, ":most": most},
                        names={"#count": "count", "#ttl": "ttl"},
                    ),
                )
            )
        parts.append(audit.part(event))
        self._table.transact(parts, marker=audit.marker(event))

    def invitations_for(self, email: str) -> list[Invitation]:
        """Every invitation stored for this address, expired ones included (the caller checks)."""
        return [
            invitation_of(item)
            for item in self._table.query(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": f"INVITE#{email}"}},
                ConsistentRead=True,
            )
        ]

    def get_invitation(self, email: str, org_id: str) -> Invitation | None:
        item = self._table.get(f"INVITE#{email}", f"ORG#{org_id}")
        return invitation_of(item) if item else None

    def accept(self, invitation: Invitation, member: Membership, guard: str, now: int, event: AuditEvent) -> None:
        """Use the invitation up and add the member, in one transaction. ConditionFailed with
        'invitation' (replaced, used or expired meanwhile), 'member' (a member already), or
        'two_factor' / 'policy' (what `guard` names changed since it was read)."""
        parts: list[Part] = [
            (
                "invitation",
                delete(
                    invitation_key(invitation.email, invitation.org_id),
                    "token_hash = :hash AND expires_at > :now",
                    {":hash": invitation.token_hash, ":now": now},
                ),
            ),
            ("member", put(member_item(member), condition="attribute_not_exists(pk)")),
            join_part(member.user_id, member.org_id),
            audit.part(event),
        ]
        guard_part = membership_guard_part(member, guard)
        if guard_part is not None:
            parts.append(guard_part)
        self._table.transact(parts, marker=audit.marker(event))

    def decline(self, email: str, org_id: str, now: int, event: AuditEvent) -> None:
        """ConditionFailed({'invitation'}) if there is no valid invitation."""
        self._table.transact(
            [
                ("invitation", delete(invitation_key(email, org_id), "expires_at > :now", {":now": now})),
                audit.part(event),
            ],
            marker=audit.marker(event),
        )


def invitation_of(item: dict[str, Any]) -> Invitation:
    return Invitation(
        org_id=item["org_id"],
        email=item["email"],
        role=item["role"],
        sso=item["sso"],
        token_hash=item["token_hash"],
        invited_by=item["invited_by"],
        expires_at=item["expires_at"],
    )


def _invitation_item(invitation: Invitation) -> dict[str, Any]:
    return {
        "pk": f"INVITE#{invitation.email}",
        "sk": f"ORG#{invitation.org_id}",
        "org_id": invitation.org_id,
        "email": invitation.email,
        "role": invitation.role,
        "sso": invitation.sso,
        "token_hash": invitation.token_hash,
        "invited_by": invitation.invited_by,
        "expires_at": invitation.expires_at,
        "ttl": invitation.expires_at,  # DynamoDB deletes it eventually; readers check expires_at
    }
