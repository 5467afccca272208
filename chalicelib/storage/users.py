"""Users, their email addresses and their tokens.

USER#<uid>     PROFILE     user_id, email, password_hash, session_epoch (sessions minted under
                           an older epoch are revoked), failures and locked_until (second-factor
                           throttling), support, org_ids (string set of the user's organizations),
                           memberships (a version: +1 at every join, leave or role change)
EMAIL#<email>  EMAIL       user_id: created with the profile in one transaction, so an email is unique
TOKEN#<uid>    <sha256>    kind, expires_at, session_epoch, ttl: a session, challenge or enrollment
                           token, stored only as its hash; DynamoDB deletes it late, readers check
                           expires_at
"""

from __future__ import annotations

from typing import Any

from ..records import AuditEvent, NewToken, Profile, TokenRecord, UserState
from . import audit
from .table import Key, Part, Table, dump_values, key, put, update


def user_pk(user_id: str) -> str:
    return f"USER#{user_id}"


def email_key(email: str) -> Key:
    return (f"EMAIL#{email}", "EMAIL")


def profile_key(user_id: str) -> dict[str, Any]:
    return key(user_pk(user_id), "PROFILE")


def token_key(user_id: str, token_hash: str) -> dict[str, Any]:
    return key(f"TOKEN#{user_id}", token_hash)


class Users:
    def __init__(self, table: Table) -> None:
        self._table = table

    def create_user(self, profile: Profile, created_at: int) -> None:
        """Raises ConditionFailed({'email'}) when the email is taken."""
        self._table.transact(
            [
                ("email", put(email_item(profile), condition="attribute_not_exists(pk)")),
                ("profile", put(new_profile_item(profile, created_at), condition="attribute_not_exists(pk)")),
            ],
            marker=(user_pk(profile.user_id), "PROFILE"),  # a new random id: only this call creates it
        )

    def user_id_for_email(self, email: str) -> str | None:
        item = self._table.get(*email_key(email))
        return item["user_id"] if item else None

    def load_user(self, user_id: str) -> UserState | None:
        """Everything about a user in one query of their partition."""
        from .second_factors import backup_codes_of, totp_of  # they build on this module
        from .support import reset_of

        items = {
            item["sk"]: item
            for item in self._table.query(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": user_pk(user_id)}},
                ConsistentRead=True,
            )
        }
        if "PROFILE" not in items:
            return None
        return UserState(
            profile=profile_of(items["PROFILE"]),
            totp=totp_of(items.get("TOTP")),
            backup=backup_codes_of(items.get("BACKUP")),
            pending_reset=reset_of(items.get("RESET")),
        )

    def load_token_holder(self, user_id: str, token_hash: str) -> tuple[TokenRecord | None, UserState | None]:
        """A token with its user's profile, TOTP state and backup codes: one request."""
        from .second_factors import backup_codes_of, totp_of

        keys: list[Key] = [
            (f"TOKEN#{user_id}", token_hash),
            (user_pk(user_id), "PROFILE"),
            (user_pk(user_id), "TOTP"),
            (user_pk(user_id), "BACKUP"),
        ]
        found = self._table.batch_get(keys)
        token_item, profile_item, totp_item, backup_item = (found.get(k) for k in keys)
        token = (
            TokenRecord(token_item["kind"], token_item["expires_at"], token_item["session_epoch"])
            if token_item
            else None
        )
        if profile_item is None:
            return token, None
        return token, UserState(
            profile=profile_of(profile_item), totp=totp_of(totp_item), backup=backup_codes_of(backup_item)
        )

    def get_profile(self, user_id: str) -> Profile | None:
        item = self._table.get(user_pk(user_id), "PROFILE")
        return profile_of(item) if item else None

    def put_token(self, user_id: str, token: NewToken, parts: tuple[Part, ...] = ()) -> None:
        """The token, alone or in one transaction with `parts` (ConditionFailed naming those that
        failed). Either way one request."""
        if not parts:
            self._table.put(token_item(user_id, token))
            return
        self._table.transact(
            [("token", put(token_item(user_id, token))), *parts],
            marker=(f"TOKEN#{user_id}", token.token_hash),  # a new random token: only this call creates it
        )

    def delete_token(self, user_id: str, token_hash: str) -> None:
        self._table.delete(f"TOKEN#{user_id}", token_hash)

    def grant_support(self, user_id: str, event: AuditEvent) -> None:
        """ConditionFailed({'profile'}) if there is no such user."""
        self._table.transact(
            [
                ("profile", update(profile_key(user_id), "SET support = :yes", "attribute_exists(pk)", {":yes": True})),
                audit.part(event),
            ],
            marker=audit.marker(event),
        )

    def record_failure(
        self, user_id: str, seen: int, failures: int, locked_until: int, now: int, attempt_id: str
    ) -> None:
        """Count one failed second-factor attempt if nobody counted since we read `seen` and no
        lockout runs; ConditionFailed({'throttle'}) otherwise. `attempt_id` makes a retry of
        this same write, after a timeout that hid its success, count once."""
        self._table.conditional(
            "UpdateItem",
            "throttle",
            Key=profile_key(user_id),
            UpdateExpression="SET failures = :failures, locked_until = :locked_until, failure_id = :attempt",
            ConditionExpression="(failures = :seen AND locked_until <= :now) OR failure_id = :attempt",
            ExpressionAttributeValues=dump_values(
                {
                    ":failures": failures,
                    ":locked_until": locked_until,
                    ":seen": seen,
                    ":now": now,
                    ":attempt": attempt_id,
                }
            ),
        )


# -- item shapes and transaction parts other stores share ----------------------------------------


def new_profile_item(profile: Profile, created_at: int) -> dict[str, Any]:
    return {
        "pk": user_pk(profile.user_id),
        "sk": "PROFILE",
        "user_id": profile.user_id,
        "email": profile.email,
        "password_hash": profile.password_hash,
        "session_epoch": 0,
        "failures": 0,
        "locked_until": 0,
        "memberships": 0,
        "created_at": created_at,
    }


def email_item(profile: Profile) -> dict[str, Any]:
    return {"pk": f"EMAIL#{profile.email}", "sk": "EMAIL", "user_id": profile.user_id}


def profile_of(item: dict[str, Any]) -> Profile:
    return Profile(
        user_id=item["user_id"],
        email=item["email"],
        password_hash=item["password_hash"],
        session_epoch=item.get("session_epoch", 0),
        failures=item.get("failures", 0),
        locked_until=item.get("locked_until", 0),
        support=item.get("support", False),
        org_ids=tuple(sorted(item.get("org_ids", ()))),
        memberships=item.get("memberships", 0),
    )


def token_item(user_id: str, token: NewToken) -> dict[str, Any]:
    return {
        "pk": f"TOKEN#{user_id}",
        "sk": token.token_hash,
        "kind": token.kind,
        "expires_at": token.expires_at,
        "session_epoch": token.session_epoch,
        "ttl": token.expires_at,  # DynamoDB deletes it eventually; readers check expires_at
    }


def consume_token(user_id: str, token_hash: str, now: int) -> dict[str, Any]:
    """Single use: the token must still exist and be unexpired as we delete it."""
    return {
        "Delete": {
            "Key": token_key(user_id, token_hash),
            "ConditionExpression": "expires_at > :now",
            "ExpressionAttributeValues": dump_values({":now": now}),
        }
    }


def move_session_epoch(user_id: str, token_hash: str, epoch: int, now: int) -> dict[str, Any]:
    """Keep the caller's own session alive across an epoch change."""
    return update(
        token_key(user_id, token_hash),
        "SET session_epoch = :epoch",
        "expires_at > :now",
        {":epoch": epoch, ":now": now},
    )


def reset_failures(
    user_id: str, now: int, epoch: tuple[int, int] | None = None, memberships: int | None = None
) -> dict[str, Any]:
    """A successful second factor clears the failure count, unless a lockout began meanwhile.
    With `epoch` (old, new) it also revokes every session minted under the old epoch; with
    `memberships` it holds only if the user joined, left or changed role in no organization
    since that version was read."""
    expression = "SET failures = :zero"
    condition = "locked_until <= :now"
    values: dict[str, Any] = {":zero": 0, ":now": now}
    if epoch is not None:
        expression += ", session_epoch = :new_epoch"
        condition += " AND session_epoch = :old_epoch"
        values.update({":old_epoch": epoch[0], ":new_epoch": epoch[1]})
    if memberships is not None:
        condition += " AND memberships = :memberships"
        values[":memberships"] = memberships
    return update(profile_key(user_id), expression, condition, values)


def upgrade_password_part(user_id: str, old_hash: str, new_hash: str) -> Part:
    """Replace a verified hash by one at today's parameters, unless it changed since it was read."""
    return (
        "password",
        update(
            profile_key(user_id),
            "SET password_hash = :new",
            "password_hash = :old",
            {":new": new_hash, ":old": old_hash},
        ),
    )


def join_part(user_id: str, org_id: str) -> Part:
    """The profile's side of joining an organization."""
    return (
        "profile",
        update(
            profile_key(user_id),
            "ADD org_ids :org, memberships :one",
            "attribute_exists(pk)",
            {":org": {org_id}, ":one": 1},
        ),
    )


def leave_part(user_id: str, org_id: str) -> Part:
    """The profile's side of leaving an organization."""
    return (
        "profile",
        update(
            profile_key(user_id),
            "DELETE org_ids :org ADD memberships :one",
            "attribute_exists(pk)",
            {":org": {org_id}, ":one": 1},
        ),
    )


def memberships_moved_part(user_id: str) -> Part:
    """A role change: the user's organizations stay, but what they owe may not."""
    return ("profile", update(profile_key(user_id), "ADD memberships :one", "attribute_exists(pk)", {":one": 1}))
