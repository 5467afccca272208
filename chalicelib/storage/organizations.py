"""Organizations and their members.

    ORG#<oid>  ORG            org_id, name, plan, owners (how many), require_two_factor,
                              enforced_at (every member who owes 2FA has the deadline
                              enforced_at + 30 days; nothing is written per member),
                              notice_stage (the last notice stage handed to the queue),
                              due_pk/due_sk while a notice stage is ahead (deadline index),
                              tally and tally_as_of (members counted in the background),
                              recount_requested_at
    ORG#<oid>  MEMBER#<uid>   org_id, user_id, email, role, sso, joined_at

The user's side of a membership is the `org_ids` set on their profile (`users.py`), written
in the same transaction. Turning enforcement on or off writes the organization item and
an audit event, whatever the number of members.
"""

from __future__ import annotations

from typing import Any

from .. import enforcement
from ..records import ACTIVE, AuditEvent, Membership, MemberTally, Organization
from . import audit
from .due_index import DueIndex
from .second_factors import two_factor_active_part
from .table import ConditionFailed, Key, Part, Table, condition_check, delete, dump_values, key, put, update
from .users import join_part, leave_part, memberships_moved_part, user_pk

# What must still hold when someone joins or their role changes, as the service read it
# (DESIGN.md's invariant):
EXEMPT_JOIN = "exempt"  # an SSO member: owes nothing, whatever the policy
JOIN_WITH_TWO_FACTOR = "two_factor_on"  # owes 2FA if required: their 2FA must still be on
JOIN_WHILE_NOT_REQUIRED = "policy_off"  # 2FA off: the organization must still not require it


def org_key(org_id: str) -> dict[str, Any]:
    return key(f"ORG#{org_id}", "ORG")


def member_key(org_id: str, user_id: str) -> dict[str, Any]:
    return key(f"ORG#{org_id}", f"MEMBER#{user_id}")


class Organizations:
    def __init__(self, table: Table, due_index: DueIndex) -> None:
        self._table = table
        self._due = due_index

    def create_organization(self, org: Organization, owner: Membership, tally: MemberTally, now: int) -> None:
        self._table.transact(
            [
                ("org", put(_org_item(org, tally, now), condition="attribute_not_exists(pk)")),
                ("member", put(member_item(owner), condition="attribute_not_exists(pk)")),
                join_part(owner.user_id, org.org_id),
            ],
            marker=(f"ORG#{org.org_id}", "ORG"),  # a new random id: only this call creates it
        )

    def get_organization(self, org_id: str) -> Organization | None:
        item = self._table.get(f"ORG#{org_id}", "ORG")
        return organization_of(item) if item else None

    def get_organizations(self, org_ids: list[str]) -> dict[str, Organization]:
        found = self._table.batch_get([(f"ORG#{oid}", "ORG") for oid in org_ids])
        return {item["org_id"]: organization_of(item) for item in found.values()}

    def get_membership(self, org_id: str, user_id: str) -> Membership | None:
        item = self._table.get(f"ORG#{org_id}", f"MEMBER#{user_id}")
        return membership_of(item) if item else None

    def organizations_of(self, user_id: str, org_ids: tuple[str, ...]) -> list[tuple[Organization, Membership]]:
        """Each organization with the user's membership in it: one batched read."""
        if not org_ids:
            return []
        keys: list[Key] = [(f"ORG#{oid}", "ORG") for oid in org_ids]
        keys += [(f"ORG#{oid}", f"MEMBER#{user_id}") for oid in org_ids]
        found = self._table.batch_get(keys)
        pairs = []
        for oid in org_ids:
            org = found.get((f"ORG#{oid}", "ORG"))
            member = found.get((f"ORG#{oid}", f"MEMBER#{user_id}"))
            if org and member:
                pairs.append((organization_of(org), membership_of(member)))
        return pairs

    def change_member(
        self, before: Membership, after: Membership, guard: str, owners_change: int, event: AuditEvent
    ) -> None:
        """Change a member's role or SSO flag as read in `before`. ConditionFailed with 'member'
        (changed or gone meanwhile), 'owners' (it would leave no owner), 'two_factor' or 'policy'
        (what `guard` names changed since it was read), or 'owners_or_policy' when both of the
        last are checked on the organization item, which a transaction may touch only once."""
        parts: list[Part] = [
            (
                "member",
                update(
                    member_key(after.org_id, after.user_id),
                    "SET #role = :role, sso = :sso",
                    "#role = :was_role AND sso = :was_sso",
                    {":role": after.role, ":sso": after.sso, ":was_role": before.role, ":was_sso": before.sso},
                    names={"#role": "role"},
                ),
            ),
            memberships_moved_part(after.user_id),
            audit.part(event),
        ]
        guard_part = membership_guard_part(after, guard)
        if owners_change and guard == JOIN_WHILE_NOT_REQUIRED:
            parts.append(_owners_part(after.org_id, owners_change, policy_off=True))
        else:
            if owners_change:
                parts.append(_owners_part(after.org_id, owners_change))
            if guard_part is not None:
                parts.append(guard_part)
        self._table.transact(parts, marker=audit.marker(event))

    def remove_member(self, member: Membership, event: AuditEvent) -> None:
        """End a membership as read in `member`. ConditionFailed with 'member' (its role changed
        or it is gone) or 'owners' (it was the last owner)."""
        parts: list[Part] = [
            (
                "member",
                delete(
                    member_key(member.org_id, member.user_id),
                    "#role = :role",
                    {":role": member.role},
                    names={"#role": "role"},
                ),
            ),
            leave_part(member.user_id, member.org_id),
            audit.part(event),
        ]
        if member.role == "owner":
            parts.append(_owners_part(member.org_id, -1))
        self._table.transact(parts, marker=audit.marker(event))

    def members_page(self, org_id: str, after: str | None, limit: int) -> tuple[list[Membership], str | None]:
        """Up to `limit` members in user-id order after the member `after`; and the user id to
        continue after, or None at the end."""
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :member)",
            "ExpressionAttributeValues": {":pk": {"S": f"ORG#{org_id}"}, ":member": {"S": "MEMBER#"}},
            "ConsistentRead": True,
            "Limit": limit,
        }
        if after is not None:
            kwargs["ExclusiveStartKey"] = member_key(org_id, after)
        items, last = self._table.query_page(**kwargs)
        members = [membership_of(item) for item in items]
        return members, (last["sk"]["S"].removeprefix("MEMBER#") if last else None)

    def current_members(self, org_id: str, user_ids: list[str]) -> dict[str, tuple[Membership, bool]]:
        """Those of `user_ids` who are members now, each with whether their 2FA is on: one
        batched read of their membership and TOTP items."""
        keys: list[Key] = [(f"ORG#{org_id}", f"MEMBER#{uid}") for uid in user_ids]
        keys += [(user_pk(uid), "TOTP") for uid in user_ids]
        found = self._table.batch_get(keys)
        current = {}
        for uid in user_ids:
            item = found.get((f"ORG#{org_id}", f"MEMBER#{uid}"))
            if item is not None:
                totp = found.get((user_pk(uid), "TOTP"))
                current[uid] = (membership_of(item), totp is not None and totp.get("status") == ACTIVE)
        return current

    def set_enforcement(self, org: Organization, expected_required: bool, event: AuditEvent) -> None:
        """Store the policy: the organization item and an audit event, whatever its size. Turning
        it on schedules the first notice stage (due at once); turning it off unschedules them.
        ConditionFailed({'org'}) if another owner or admin changed it first."""
        if org.require_two_factor:
            assert org.enforced_at is not None
            expression = (
                "SET require_two_factor = :on, enforced_at = :at, notice_stage = :none, due_pk = :due_pk, "
                "due_sk = :due_sk"
            )
            values: dict[str, Any] = {
                ":on": True,
                ":at": org.enforced_at,
                ":none": -1,
                **_prefixed(self._due.entry(org.org_id, org.enforced_at, "ORG")),
            }
        else:
            expression = "SET require_two_factor = :on, notice_stage = :none REMOVE enforced_at, due_pk, due_sk"
            values = {":on": False, ":none": -1}
        values[":expected"] = expected_required
        self._table.transact(
            [
                (
                    "org",
                    update(
                        org_key(org.org_id),
                        expression,
                        "attribute_exists(pk) AND require_two_factor = :expected",
                        values,
                    ),
                ),
                audit.part(event),
            ],
            marker=audit.marker(event),
        )

    def advance_notice_stage(self, org: Organization, stage: int) -> None:
        """Record that `stage` was handed to the queue, and schedule the next one (or leave the
        index). ConditionFailed({'org'}) if another run advanced it first or the policy changed."""
        assert org.enforced_at is not None
        following = enforcement.next_notice_at(org.enforced_at, stage)
        values: dict[str, Any] = {":stage": stage, ":seen": org.notice_stage, ":at": org.enforced_at, ":on": True}
        if following is None:
            expression = "SET notice_stage = :stage REMOVE due_pk, due_sk"
        else:
            expression = "SET notice_stage = :stage, due_sk = :due_sk"
            values[":due_sk"] = self._due.entry(org.org_id, following, "ORG")["due_sk"]
        self._table.conditional(
            "UpdateItem",
            "org",
            Key=org_key(org.org_id),
            UpdateExpression=expression,
            ConditionExpression="notice_stage = :seen AND enforced_at = :at AND require_two_factor = :on",
            ExpressionAttributeValues=dump_values(values),
        )

    def claim_recount(self, org_id: str, now: int, older_than: int) -> bool:
        """Note that a recount was asked for, unless one was asked for since `older_than`:
        True if this caller should ask for it."""

        try:
            self._table.conditional(
                "UpdateItem",
                "org",
                Key=org_key(org_id),
                UpdateExpression="SET recount_requested_at = :now",
                ConditionExpression="attribute_exists(pk) AND "
                "(attribute_not_exists(recount_requested_at) OR recount_requested_at < :since)",
                ExpressionAttributeValues=dump_values({":now": now, ":since": older_than}),
            )
        except ConditionFailed:
            return False
        return True

    def record_tally(self, org_id: str, tally: MemberTally, as_of: int) -> None:
        """Store a count taken at `as_of`, unless a later one is stored already."""

        try:
            self._table.conditional(
                "UpdateItem",
                "org",
                Key=org_key(org_id),
                UpdateExpression="SET tally = :tally, tally_as_of = :as_of",
                ConditionExpression="attribute_exists(pk) AND "
                "(attribute_not_exists(tally_as_of) OR tally_as_of <= :as_of)",
                ExpressionAttributeValues=dump_values({":tally": _tally_item(tally), ":as_of": as_of}),
            )
        except ConditionFailed:
            return


# -- item shapes -----------------------------------------------------------------------------------


def organization_of(item: dict[str, Any]) -> Organization:
    tally = item.get("tally")
    return Organization(
        org_id=item["org_id"],
        name=item["name"],
        plan=item["plan"],
        require_two_factor=item.get("require_two_factor", False),
        enforced_at=item.get("enforced_at"),
        owners=item.get("owners", 1),
        notice_stage=item.get("notice_stage", -1),
        tally=MemberTally(**tally) if tally is not None else None,
        tally_as_of=item.get("tally_as_of"),
    )


def membership_of(item: dict[str, Any]) -> Membership:
    return Membership(
        org_id=item["org_id"],
        user_id=item["user_id"],
        email=item["email"],
        role=item["role"],
        sso=item["sso"],
        joined_at=item["joined_at"],
    )


def _org_item(org: Organization, tally: MemberTally, now: int) -> dict[str, Any]:
    return {
        "pk": f"ORG#{org.org_id}",
        "sk": "ORG",
        "org_id": org.org_id,
        "name": org.name,
        "plan": org.plan,
        "owners": org.owners,
        "require_two_factor": org.require_two_factor,
        "notice_stage": -1,
        "tally": _tally_item(tally),
        "tally_as_of": now,
    }


def member_item(member: Membership) -> dict[str, Any]:
    return {
        "pk": f"ORG#{member.org_id}",
        "sk": f"MEMBER#{member.user_id}",
        "org_id": member.org_id,
        "user_id": member.user_id,
        "email": member.email,
        "role": member.role,
        "sso": member.sso,
        "joined_at": member.joined_at,
    }


def _tally_item(tally: MemberTally) -> dict[str, int]:
    return {"exempt": tally.exempt, "two_factor_on": tally.two_factor_on, "two_factor_off": tally.two_factor_off}


def membership_guard_part(member: Membership, guard: str) -> Part | None:
    """The condition that keeps DESIGN.md's invariant for a membership as `guard` decided it."""
    if guard == JOIN_WITH_TWO_FACTOR:
        return two_factor_active_part(member.user_id)
    if guard == JOIN_WHILE_NOT_REQUIRED:
        return ("policy", condition_check(org_key(member.org_id), "require_two_factor = :off", {":off": False}))
    assert guard == EXEMPT_JOIN
    return None


OWNERS_OR_POLICY = "owners_or_policy"


def _owners_part(org_id: str, change: int, policy_off: bool = False) -> Part:
    """Count owners up or down; an organization never loses its last owner. With `policy_off`,
    only while the organization does not require 2FA."""
    values: dict[str, Any] = {":change": change}
    if change > 0:
        condition = "attribute_exists(pk)"
    else:
        condition, values[":one"] = "owners > :one", 1  # DynamoDB refuses a value no expression uses
    if policy_off:
        condition, values[":off"] = f"{condition} AND require_two_factor = :off", False
    label = OWNERS_OR_POLICY if policy_off else "owners"
    return (label, update(org_key(org_id), "ADD owners :change", condition, values))


def _prefixed(attributes: dict[str, str]) -> dict[str, str]:
    return {f":{name}": value for name, value in attributes.items()}
