"""Large organizations, written straight into the table for tests and `make bench`.

Signing up and adding thousands of members through the API would take minutes on moto,
so the bulk is batch-written here in exactly the item shapes the storage modules write
(`new_profile_item`, `email_item`, `member_item`, the profile's `org_ids`). Members with
2FA get an active TOTP item whose secret no one can use: only its status matters to
enforcement.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

from chalicelib.records import ACTIVE, Membership, Profile
from chalicelib.storage.organizations import member_item
from chalicelib.storage.table import dump
from chalicelib.storage.users import email_item, new_profile_item, user_pk

from . import stack

BATCH_WRITE_LIMIT = 25


@dataclass(frozen=True)
class Member:
    user_id: str
    email: str
    two_factor: bool
    sso: bool


def add_members(
    org_id: str, count: int, now: int, *, two_factor_every: int = 0, sso_every: int = 0, prefix: str = "m"
) -> list[Member]:
    """`count` new users who are members of `org_id`: every `two_factor_every`-th has 2FA on,
    every `sso_every`-th is an SSO member (0: none). User ids are UUID-shaped and sort in
    the order they were made."""
    members = []
    items: list[dict[str, Any]] = []
    tail = hashlib.sha256(f"{org_id}/{prefix}".encode()).hexdigest()[:12]
    for number in range(count):
        user_id = f"{number:08x}-0000-4000-8000-{tail}"
        email = f"{prefix}{number}@{org_id[:8]}.example.com"
        two_factor = bool(two_factor_every) and number % two_factor_every == 0
        sso = bool(sso_every) and not two_factor and number % sso_every == 1
        members.append(Member(user_id, email, two_factor, sso))
        profile = Profile(user_id, email, password_hash="unusable$")  # noqa: S106 - signs no one in
        items.append({**new_profile_item(profile, now), "org_ids": {org_id}, "memberships": 1})
        items.append(email_item(profile))
        items.append(member_item(Membership(org_id, user_id, email, "member", sso, now)))
        if two_factor:
            items.append(_active_totp(user_id, now))
    write(items)
    return members


def set_two_factor(user_id: str, now: int) -> None:
    """Turn a bulk member's 2FA on, as if they had enrolled."""
    write([_active_totp(user_id, now)])


def write(items: list[dict[str, Any]]) -> None:
    dynamodb = stack.client("dynamodb")
    table = os.environ["AEGIS_TABLE_NAME"]
    for start in range(0, len(items), BATCH_WRITE_LIMIT):
        requests = [{"PutRequest": {"Item": dump(item)}} for item in items[start : start + BATCH_WRITE_LIMIT]]
        while requests:
            response = dynamodb.batch_write_item(RequestItems={table: requests})
            requests = response.get("UnprocessedItems", {}).get(table, [])


def _active_totp(user_id: str, now: int) -> dict[str, Any]:
    sealed = {"key_id": "bulk", "encrypted_key": b"-", "nonce": b"-", "ciphertext": b"-"}
    return {
        "pk": user_pk(user_id),
        "sk": "TOTP",
        "status": ACTIVE,
        "secret": sealed,
        "created_at": now,
        "enabled_at": now,
    }


def remove_members(org_id: str, user_ids: list[str]) -> None:
    """Take bulk members out of the organization, as leaving does (profile set and member item)."""
    dynamodb = stack.client("dynamodb")
    table = os.environ["AEGIS_TABLE_NAME"]
    for user_id in user_ids:
        dynamodb.delete_item(TableName=table, Key={"pk": {"S": f"ORG#{org_id}"}, "sk": {"S": f"MEMBER#{user_id}"}})
        dynamodb.update_item(
            TableName=table,
            Key={"pk": {"S": user_pk(user_id)}, "sk": {"S": "PROFILE"}},
            UpdateExpression="DELETE org_ids :org ADD memberships :one",
            ExpressionAttributeValues={":org": {"SS": [org_id]}, ":one": {"N": "1"}},
        )
