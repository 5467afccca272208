"""The DynamoDB repository: the only module that speaks DynamoDB.

One table, string keys `pk`/`sk`, TTL attribute `ttl`, and the sparse index
`deadline-index` (`due_pk`/`due_sk`) holding only members who owe a notice and
pending support resets. Item layout:

    USER#<uid>   PROFILE        email, password hash, session epoch, failure counter
    USER#<uid>   TOTP           pending or active encrypted secret, last accepted step
    USER#<uid>   BACKUP         salt and the set of unused backup-code hashes
    USER#<uid>   RESET          a pending support reset
    USER#<uid>   ORG#<oid>      a reference to each organization the user belongs to
    EMAIL#<email> EMAIL         the user id: makes an email unique
    TOKEN#<uid>  <sha256>       session, challenge or enrollment token (TTL)
    ORG#<oid>    ORG            name, plan, enforcement
    ORG#<oid>    MEMBER#<uid>   role, SSO, deadline, last notice sent
    AUDIT#<uid>  <time>#<id>    audit events

Every security check-and-update is a conditional write or a transaction; a
failed condition surfaces as `ConditionFailed` naming the parts that failed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any

from . import aws, enforcement
from .records import (
    ACTIVE,
    PENDING,
    AuditEvent,
    BackupCodeHash,
    BackupCodeHashes,
    DueEntry,
    Membership,
    NewToken,
    Organization,
    PendingReset,
    Profile,
    Proof,
    TokenRecord,
    TotpState,
    TotpStep,
    UserState,
)

DEADLINE_INDEX = "deadline-index"
TRANSACTION_LIMIT = 100
BATCH_GET_LIMIT = 100


class ConditionFailed(Exception):
    def __init__(self, parts: set[str]) -> None:
        super().__init__(", ".join(sorted(parts)))
        self.parts = parts


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _user(uid: str) -> str:
    return f"USER#{uid}"


def _due_sort_key(at: int, suffix: str) -> str:
    return f"{at:012d}#{suffix}"


class Repository:
    def __init__(self, dynamodb: Callable[[], Any], table_name: str) -> None:
        self._db = dynamodb
        self._table = table_name

    # -- low-level helpers -------------------------------------------------------------

    def _call(self, operation: str, **kwargs: Any) -> Any:
        return aws.call(f"dynamodb.{operation}", getattr(self._db(), _snake(operation)), **kwargs)

    def _conditional(self, operation: str, part: str, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        with aws.unavailable_on_aws_error(f"dynamodb.{operation}"):
            try:
                return getattr(self._db(), _snake(operation))(TableName=self._table, **kwargs)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                    raise ConditionFailed({part}) from None
                raise

    def _transact(self, parts: list[tuple[str, dict[str, Any]]]) -> None:
        """All or nothing. `parts` are (label, TransactItem); labels name failed conditions."""
        from botocore.exceptions import ClientError

        for _, item in parts:
            next(iter(item.values()))["TableName"] = self._table
        with aws.unavailable_on_aws_error("dynamodb.TransactWriteItems"):
            try:
                self._db().transact_write_items(TransactItems=[item for _, item in parts])
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons = error.response.get("CancellationReasons") or []
                failed = {
                    label
                    for (label, _), reason in zip(parts, reasons, strict=False)
                    if reason.get("Code") == "ConditionalCheckFailed"
                }
                if not failed:
                    raise  # a conflict or throttle: nothing was written, report unavailable
                raise ConditionFailed(failed) from None

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self._call("GetItem", TableName=self._table, Key=_key(pk, sk), ConsistentRead=True)
        return _load(response["Item"]) if "Item" in response else None

    def _batch_get(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for start in range(0, len(keys), BATCH_GET_LIMIT):
            pending: list[dict[str, Any]] = [_key(pk, sk) for pk, sk in keys[start : start + BATCH_GET_LIMIT]]
            while pending:
                response = self._call(
                    "BatchGetItem",
                    RequestItems={self._table: {"Keys": pending, "ConsistentRead": True}},
                )
                for raw in response["Responses"].get(self._table, []):
                    item = _load(raw)
                    found[(item["pk"], item["sk"])] = item
                pending = response.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
        return found

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        while True:
            response = self._call("Query", TableName=self._table, **kwargs)
            for raw in response["Items"]:
                yield _load(raw)
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # -- users and tokens --------------------------------------------------------------

    def create_user(self, profile: Profile, created_at: int) -> None:
        """Raises ConditionFailed({'email'}) when the email is taken."""
        self._transact(
            [
                (
                    "email",
                    _put(
                        {"pk": f"EMAIL#{profile.email}", "sk": "EMAIL", "user_id": profile.user_id},
                        condition="attribute_not_exists(pk)",
                    ),
                ),
                (
                    "profile",
                    _put(
                        {
                            "pk": _user(profile.user_id),
                            "sk": "PROFILE",
                            "user_id": profile.user_id,
                            "email": profile.email,
                            "password_hash": profile.password_hash,
                            "session_epoch": 0,
                            "failures": 0,
                            "locked_until": 0,
                            "created_at": created_at,
                        },
                        condition="attribute_not_exists(pk)",
                    ),
                ),
            ]
        )

    def user_id_for_email(self, email: str) -> str | None:
        item = self._get(f"EMAIL#{email}", "EMAIL")
        return item["user_id"] if item else None

    def load_user(self, user_id: str) -> UserState | None:
        """Everything about a user in one query of their partition."""
        items = list(
            self._query(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": _user(user_id)}},
                ConsistentRead=True,
            )
        )
        by_sort_key = {item["sk"]: item for item in items}
        if "PROFILE" not in by_sort_key:
            return None
        return UserState(
            profile=_profile(by_sort_key["PROFILE"]),
            totp=_totp(by_sort_key.get("TOTP")),
            backup=_backup(by_sort_key.get("BACKUP")),
            org_ids=tuple(item["org_id"] for item in items if item["sk"].startswith("ORG#")),
            pending_reset=_reset(by_sort_key.get("RESET")),
        )

    def load_token_holder(self, user_id: str, token_hash: str) -> tuple[TokenRecord | None, UserState | None]:
        """A token with its user's profile, TOTP state and backup codes: one request."""
        found = self._batch_get(
            [
                (f"TOKEN#{user_id}", token_hash),
                (_user(user_id), "PROFILE"),
                (_user(user_id), "TOTP"),
                (_user(user_id), "BACKUP"),
            ]
        )
        token_item = found.get((f"TOKEN#{user_id}", token_hash))
        profile_item = found.get((_user(user_id), "PROFILE"))
        token = (
            TokenRecord(token_item["kind"], token_item["expires_at"], token_item["session_epoch"])
            if token_item
            else None
        )
        if profile_item is None:
            return token, None
        state = UserState(
            profile=_profile(profile_item),
            totp=_totp(found.get((_user(user_id), "TOTP"))),
            backup=_backup(found.get((_user(user_id), "BACKUP"))),
        )
        return token, state

    def put_token(self, user_id: str, token: NewToken) -> None:
        self._call("PutItem", TableName=self._table, Item=_dump(_token_item(user_id, token)))

    def delete_token(self, user_id: str, token_hash: str) -> None:
        self._call("DeleteItem", TableName=self._table, Key=_key(f"TOKEN#{user_id}", token_hash))

    def grant_support(self, user_id: str) -> None:
        self._conditional(
            "UpdateItem",
            "profile",
            Key=_key(_user(user_id), "PROFILE"),
            UpdateExpression="SET support = :yes",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":yes": {"BOOL": True}},
        )

    # -- second-factor throttling ------------------------------------------------------

    def record_failure(self, user_id: str, seen: int, failures: int, locked_until: int, now: int) -> None:
        """Count one failed attempt if nobody counted since we read `seen` and no lockout runs.
        Raises ConditionFailed({'throttle'}) otherwise."""
        self._conditional(
            "UpdateItem",
            "throttle",
            Key=_key(_user(user_id), "PROFILE"),
            UpdateExpression="SET failures = :failures, locked_until = :locked_until",
            ConditionExpression="failures = :seen AND locked_until <= :now",
            ExpressionAttributeValues=_dump_values(
                {":failures": failures, ":locked_until": locked_until, ":seen": seen, ":now": now}
            ),
        )

    def get_profile(self, user_id: str) -> Profile | None:
        item = self._get(_user(user_id), "PROFILE")
        return _profile(item) if item else None

    # -- two-factor lifecycle ----------------------------------------------------------

    def put_pending_enrollment(self, user_id: str, sealed: dict[str, Any], now: int, expires_at: int) -> None:
        """Start or replace a pending enrollment. ConditionFailed({'totp'}) if 2FA is active."""
        self._conditional(
            "PutItem",
            "totp",
            Item=_dump(
                {
                    "pk": _user(user_id),
                    "sk": "TOTP",
                    "status": PENDING,
                    "secret": sealed,
                    "created_at": now,
                    "pending_expires_at": expires_at,
                }
            ),
            ConditionExpression="attribute_not_exists(pk) OR #status = :pending",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":pending": {"S": PENDING}},
        )

    def sign_in_with_second_factor(
        self, user_id: str, challenge_hash: str, proof: Proof, session: NewToken, now: int, audit: AuditEvent
    ) -> None:
        self._transact(
            [
                ("challenge", _consume_token(user_id, challenge_hash, now)),
                _consume_proof(user_id, proof),
                ("throttle", _reset_failures(user_id, now)),
                ("session", _put(_token_item(user_id, session))),
                ("audit", _put(_audit_item(audit))),
            ]
        )

    def activate_two_factor(
        self,
        user_id: str,
        pending_nonce: bytes,
        step: int,
        backup: BackupCodeHashes,
        epoch: tuple[int, int],
        current_token_hash: str,
        new_session: NewToken | None,
        now: int,
        audit: AuditEvent,
    ) -> None:
        """Confirm the pending enrollment: active secret and backup codes in one transaction;
        other sessions revoked by moving the session epoch. `pending_nonce` names the sealed
        secret the code was checked against: if the enrollment was restarted meanwhile (even
        in the same second), the secret is not the one the user confirmed."""
        parts = [
            (
                "totp",
                _update(
                    _key(_user(user_id), "TOTP"),
                    "SET #status = :active, last_step = :step, enabled_at = :now REMOVE pending_expires_at",
                    "#status = :pending AND #secret.nonce = :nonce AND pending_expires_at > :now",
                    {
                        ":active": ACTIVE,
                        ":pending": PENDING,
                        ":step": step,
                        ":now": now,
                        ":nonce": pending_nonce,
                    },
                    names={"#status": "status", "#secret": "secret"},
                ),
            ),
            ("backup", _put(_backup_item(user_id, backup, now))),
            ("throttle", _reset_failures(user_id, now, epoch)),
            ("audit", _put(_audit_item(audit))),
        ]
        if new_session is None:
            parts.append(("token", _move_session_epoch(user_id, current_token_hash, epoch[1], now)))
        else:
            parts.append(("token", _consume_token(user_id, current_token_hash, now)))
            parts.append(("session", _put(_token_item(user_id, new_session))))
        self._transact(parts)

    def replace_backup_codes(
        self, user_id: str, step: int, backup: BackupCodeHashes, now: int, audit: AuditEvent
    ) -> None:
        self._transact(
            [
                _consume_proof(user_id, TotpStep(step)),
                ("backup", _put(_backup_item(user_id, backup, now), condition="attribute_exists(pk)")),
                ("throttle", _reset_failures(user_id, now)),
                ("audit", _put(_audit_item(audit))),
            ]
        )

    def deactivate_two_factor(
        self,
        user_id: str,
        proof: Proof,
        epoch: tuple[int, int],
        current_session_hash: str,
        now: int,
        audit: AuditEvent,
    ) -> None:
        """Delete the secret and all backup codes together; revoke other sessions."""
        if isinstance(proof, TotpStep):
            parts = [
                (
                    "proof",
                    _delete(
                        _key(_user(user_id), "TOTP"),
                        "#status = :active AND (attribute_not_exists(last_step) OR last_step < :step)",
                        {":active": ACTIVE, ":step": proof.step},
                        names={"#status": "status"},
                    ),
                ),
                ("backup", _delete(_key(_user(user_id), "BACKUP"))),
            ]
        else:
            parts = [
                (
                    "totp",
                    _delete(
                        _key(_user(user_id), "TOTP"),
                        "#status = :active",
                        {":active": ACTIVE},
                        names={"#status": "status"},
                    ),
                ),
                (
                    "proof",
                    _delete(_key(_user(user_id), "BACKUP"), "contains(hashes, :hash)", {":hash": proof.hash}),
                ),
            ]
        parts += [
            # A pending support reset has nothing left to do once the user turned 2FA off.
            ("reset", _delete(_key(_user(user_id), "RESET"))),
            ("throttle", _reset_failures(user_id, now, epoch)),
            ("token", _move_session_epoch(user_id, current_session_hash, epoch[1], now)),
            ("audit", _put(_audit_item(audit))),
        ]
        self._transact(parts)

    def put_audit_event(self, event: AuditEvent) -> None:
        self._call("PutItem", TableName=self._table, Item=_dump(_audit_item(event)))

    # -- organizations -----------------------------------------------------------------

    def create_organization(self, org: Organization, owner: Membership) -> None:
        self._transact(
            [
                ("org", _put(_org_item(org), condition="attribute_not_exists(pk)")),
                *_membership_parts(owner),
            ]
        )

    def get_organization(self, org_id: str) -> Organization | None:
        item = self._get(f"ORG#{org_id}", "ORG")
        return _organization(item) if item else None

    def get_organizations(self, org_ids: Iterable[str]) -> dict[str, Organization]:
        found = self._batch_get([(f"ORG#{oid}", "ORG") for oid in set(org_ids)])
        return {item["org_id"]: _organization(item) for item in found.values()}

    def get_membership(self, org_id: str, user_id: str) -> Membership | None:
        item = self._get(f"ORG#{org_id}", f"MEMBER#{user_id}")
        return _membership(item) if item else None

    def add_member(self, member: Membership) -> None:
        """ConditionFailed({'member'}) if already a member."""
        self._transact(_membership_parts(member))

    def members(self, org_id: str) -> list[Membership]:
        return [
            _membership(item)
            for item in self._query(
                KeyConditionExpression="pk = :pk AND begins_with(sk, :member)",
                ExpressionAttributeValues={":pk": {"S": f"ORG#{org_id}"}, ":member": {"S": "MEMBER#"}},
                ConsistentRead=True,
            )
        ]

    def organizations_of(self, user_id: str, org_ids: Iterable[str]) -> list[tuple[Organization, Membership]]:
        """Each organization with the user's membership in it: one batched read."""
        org_ids = list(org_ids)
        keys = [(f"ORG#{oid}", "ORG") for oid in org_ids] + [(f"ORG#{oid}", f"MEMBER#{user_id}") for oid in org_ids]
        found = self._batch_get(keys)
        pairs = []
        for oid in org_ids:
            org = found.get((f"ORG#{oid}", "ORG"))
            member = found.get((f"ORG#{oid}", f"MEMBER#{user_id}"))
            if org and member:
                pairs.append((_organization(org), _membership(member)))
        return pairs

    def two_factor_enabled(self, user_ids: Iterable[str]) -> set[str]:
        """The users among `user_ids` whose 2FA is active."""
        found = self._batch_get([(_user(uid), "TOTP") for uid in user_ids])
        return {item["pk"].removeprefix("USER#") for item in found.values() if item.get("status") == ACTIVE}

    def set_enforcement(
        self, org: Organization, members: list[Membership], expected_required: bool, audit: AuditEvent
    ) -> None:
        """Store the policy and every member's deadline. Transactions hold 100 items, so a
        large organization is written in chunks with the policy in the last one: until it is
        written the organization reads as unchanged, so after a failure the caller's retry
        redoes the whole change instead of finding it done and leaving members without a
        deadline."""
        parts: list[tuple[str, dict[str, Any]]] = [
            (f"member:{m.user_id}", _put(_member_item(m), condition="attribute_exists(pk)")) for m in members
        ]
        parts += [
            (
                "org",
                _put(
                    _org_item(org),
                    condition="attribute_exists(pk) AND require_two_factor = :expected",
                    values={":expected": expected_required},
                ),
            ),
            ("audit", _put(_audit_item(audit))),
        ]
        for start in range(0, len(parts), TRANSACTION_LIMIT):
            self._transact(parts[start : start + TRANSACTION_LIMIT])

    # -- the deadline index (sweep) ----------------------------------------------------

    def due_entries(self, shard: int, now: int, limit: int) -> list[DueEntry]:
        """Members whose next notice is due and resets whose time has come, oldest first."""
        response = self._call(
            "Query",
            TableName=self._table,
            IndexName=DEADLINE_INDEX,
            KeyConditionExpression="due_pk = :shard AND due_sk < :upper",
            ExpressionAttributeValues={
                ":shard": {"S": f"DUE#{shard}"},
                ":upper": {"S": _due_sort_key(now + 1, "")},
            },
            Limit=limit,
        )
        items = [_load(raw) for raw in response["Items"]]
        return [DueEntry(item["user_id"], None if item["sk"] == "RESET" else _membership(item)) for item in items]

    def record_notice(self, member: Membership, stage: int, next_notice_at: int | None) -> None:
        """Advance the member's notice stage from the one we read; ConditionFailed({'notice'})
        if another sweep got there first. Leaves the index once no notice remains."""
        values: dict[str, Any] = {":stage": stage, ":seen": member.notice_stage, ":deadline": member.deadline}
        if next_notice_at is None:
            update = "SET notice_stage = :stage REMOVE due_pk, due_sk, next_notice_at"
        else:
            # due_pk too: releasing a claimed lockout notice puts the member back in the index.
            update = "SET notice_stage = :stage, next_notice_at = :next, due_pk = :due_pk, due_sk = :due_sk"
            values[":next"] = next_notice_at
            values[":due_pk"] = f"DUE#{member.shard}"
            values[":due_sk"] = _due_sort_key(next_notice_at, f"MEMBER#{member.org_id}#{member.user_id}")
        self._conditional(
            "UpdateItem",
            "notice",
            Key=_key(f"ORG#{member.org_id}", f"MEMBER#{member.user_id}"),
            UpdateExpression=update,
            ConditionExpression="notice_stage = :seen AND deadline = :deadline",
            ExpressionAttributeValues=_dump_values(values),
        )

    def leave_deadline_index(self, member: Membership) -> None:
        """A member who enrolled owes no notice: drop them from the index."""
        self._conditional(
            "UpdateItem",
            "notice",
            Key=_key(f"ORG#{member.org_id}", f"MEMBER#{member.user_id}"),
            UpdateExpression="REMOVE due_pk, due_sk, next_notice_at",
            ConditionExpression="notice_stage = :seen",
            ExpressionAttributeValues=_dump_values({":seen": member.notice_stage}),
        )

    # -- support resets ----------------------------------------------------------------

    def put_pending_reset(self, user_id: str, reset: PendingReset, details: dict[str, str], audit: AuditEvent) -> None:
        """ConditionFailed({'totp'}) if 2FA is not active."""
        self._transact(
            [
                (
                    "totp",
                    _condition(
                        _key(_user(user_id), "TOTP"),
                        "#status = :active",
                        {":active": ACTIVE},
                        names={"#status": "status"},
                    ),
                ),
                (
                    "reset",
                    _put(
                        {
                            "pk": _user(user_id),
                            "sk": "RESET",
                            "user_id": user_id,
                            "reset_id": reset.reset_id,
                            "effective_at": reset.effective_at,
                            "requested_by": reset.requested_by,
                            "shard": reset.shard,
                            "due_pk": f"DUE#{reset.shard}",
                            "due_sk": _due_sort_key(reset.effective_at, f"RESET#{user_id}"),
                            **details,
                        }
                    ),
                ),
                ("audit", _put(_audit_item(audit))),
            ]
        )

    def cancel_reset(self, user_id: str, audit: AuditEvent) -> None:
        """ConditionFailed({'reset'}) if no reset is pending."""
        self._transact(
            [
                ("reset", _delete(_key(_user(user_id), "RESET"), "attribute_exists(pk)")),
                ("audit", _put(_audit_item(audit))),
            ]
        )

    def complete_reset(
        self, user_id: str, reset_id: str, epoch: tuple[int, int], due_members: list[Membership], audit: AuditEvent
    ) -> None:
        """Disable 2FA as support asked: secret, codes and the reset go together; sessions are
        revoked; organizations that require 2FA get the member due at once."""
        self._transact(
            [
                ("reset", _delete(_key(_user(user_id), "RESET"), "reset_id = :id", {":id": reset_id})),
                ("totp", _delete(_key(_user(user_id), "TOTP"))),
                ("backup", _delete(_key(_user(user_id), "BACKUP"))),
                (
                    "epoch",
                    _update(
                        _key(_user(user_id), "PROFILE"),
                        "SET session_epoch = :new, failures = :zero, locked_until = :zero",
                        "session_epoch = :old",
                        {":new": epoch[1], ":old": epoch[0], ":zero": 0},
                    ),
                ),
                ("audit", _put(_audit_item(audit))),
                *[(f"member:{m.org_id}", _put(_member_item(m), condition="attribute_exists(pk)")) for m in due_members],
            ]
        )


# -- item shapes -------------------------------------------------------------------------


def _profile(item: dict[str, Any]) -> Profile:
    return Profile(
        user_id=item["user_id"],
        email=item["email"],
        password_hash=item["password_hash"],
        session_epoch=item.get("session_epoch", 0),
        failures=item.get("failures", 0),
        locked_until=item.get("locked_until", 0),
        support=item.get("support", False),
    )


def _totp(item: dict[str, Any] | None) -> TotpState | None:
    if item is None:
        return None
    return TotpState(
        status=item["status"],
        sealed_secret=item["secret"],
        created_at=item["created_at"],
        last_step=item.get("last_step"),
        enabled_at=item.get("enabled_at"),
        pending_expires_at=item.get("pending_expires_at"),
    )


def _backup(item: dict[str, Any] | None) -> BackupCodeHashes | None:
    if item is None:
        return None
    return BackupCodeHashes(salt=item["salt"], hashes=frozenset(item.get("hashes", set())))


def _reset(item: dict[str, Any] | None) -> PendingReset | None:
    if item is None:
        return None
    return PendingReset(item["reset_id"], item["effective_at"], item["requested_by"], item["shard"])


def _organization(item: dict[str, Any]) -> Organization:
    return Organization(
        org_id=item["org_id"],
        name=item["name"],
        plan=item["plan"],
        require_two_factor=item.get("require_two_factor", False),
        enforced_at=item.get("enforced_at"),
    )


def _membership(item: dict[str, Any]) -> Membership:
    return Membership(
        org_id=item["org_id"],
        user_id=item["user_id"],
        email=item["email"],
        role=item["role"],
        sso=item["sso"],
        joined_at=item["joined_at"],
        deadline=item.get("deadline"),
        notice_stage=item.get("notice_stage", -1),
        shard=item.get("shard", 0),
    )


def _org_item(org: Organization) -> dict[str, Any]:
    return {
        "pk": f"ORG#{org.org_id}",
        "sk": "ORG",
        "org_id": org.org_id,
        "name": org.name,
        "plan": org.plan,
        "require_two_factor": org.require_two_factor,
        "enforced_at": org.enforced_at,
    }


def _member_item(member: Membership) -> dict[str, Any]:
    """A member with a deadline sits in the deadline index until their last notice."""
    item: dict[str, Any] = {
        "pk": f"ORG#{member.org_id}",
        "sk": f"MEMBER#{member.user_id}",
        "org_id": member.org_id,
        "user_id": member.user_id,
        "email": member.email,
        "role": member.role,
        "sso": member.sso,
        "joined_at": member.joined_at,
        "notice_stage": member.notice_stage,
        "shard": member.shard,
    }
    if member.deadline is not None:
        item["deadline"] = member.deadline
        due = enforcement.next_notice_at(member.deadline, member.notice_stage)
        if due is not None:
            item["next_notice_at"] = due
            item["due_pk"] = f"DUE#{member.shard}"
            item["due_sk"] = _due_sort_key(due, f"MEMBER#{member.org_id}#{member.user_id}")
    return item


def _membership_parts(member: Membership) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("member", _put(_member_item(member), condition="attribute_not_exists(pk)")),
        (
            "reference",
            _put({"pk": _user(member.user_id), "sk": f"ORG#{member.org_id}", "org_id": member.org_id}),
        ),
    ]


def _token_item(user_id: str, token: NewToken) -> dict[str, Any]:
    return {
        "pk": f"TOKEN#{user_id}",
        "sk": token.token_hash,
        "kind": token.kind,
        "expires_at": token.expires_at,
        "session_epoch": token.session_epoch,
        "ttl": token.expires_at,  # DynamoDB deletes it eventually; readers check expires_at
    }


def _backup_item(user_id: str, backup: BackupCodeHashes, now: int) -> dict[str, Any]:
    return {"pk": _user(user_id), "sk": "BACKUP", "salt": backup.salt, "hashes": set(backup.hashes), "created_at": now}


def _audit_item(event: AuditEvent) -> dict[str, Any]:
    from .clock import format_time

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


# -- transaction parts -------------------------------------------------------------------


def _put(item: dict[str, Any], condition: str | None = None, values: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"Item": _dump(item)}
    if condition:
        body["ConditionExpression"] = condition
    if values:
        body["ExpressionAttributeValues"] = _dump_values(values)
    return {"Put": body}


def _update(
    key: dict[str, Any],
    update: str,
    condition: str | None,
    values: dict[str, Any],
    names: dict[str, str] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"Key": key, "UpdateExpression": update, "ExpressionAttributeValues": _dump_values(values)}
    if condition:
        body["ConditionExpression"] = condition
    if names:
        body["ExpressionAttributeNames"] = names
    return {"Update": body}


def _delete(
    key: dict[str, Any],
    condition: str | None = None,
    values: dict[str, Any] | None = None,
    names: dict[str, str] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"Key": key}
    if condition:
        body["ConditionExpression"] = condition
    if values:
        body["ExpressionAttributeValues"] = _dump_values(values)
    if names:
        body["ExpressionAttributeNames"] = names
    return {"Delete": body}


def _condition(
    key: dict[str, Any], condition: str, values: dict[str, Any], names: dict[str, str] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Key": key,
        "ConditionExpression": condition,
        "ExpressionAttributeValues": _dump_values(values),
    }
    if names:
        body["ExpressionAttributeNames"] = names
    return {"ConditionCheck": body}


def _consume_token(user_id: str, token_hash: str, now: int) -> dict[str, Any]:
    """Single use: the token must still exist and be unexpired as we delete it."""
    return _delete(_key(f"TOKEN#{user_id}", token_hash), "expires_at > :now", {":now": now})


def _consume_proof(user_id: str, proof: Proof) -> tuple[str, dict[str, Any]]:
    if isinstance(proof, TotpStep):
        # Replay protection: only a step later than the last accepted one is written.
        return (
            "proof",
            _update(
                _key(_user(user_id), "TOTP"),
                "SET last_step = :step",
                "#status = :active AND (attribute_not_exists(last_step) OR last_step < :step)",
                {":step": proof.step, ":active": ACTIVE},
                names={"#status": "status"},
            ),
        )
    assert isinstance(proof, BackupCodeHash)
    # Single use: the hash leaves the set only if it is still in it.
    return (
        "proof",
        _update(
            _key(_user(user_id), "BACKUP"),
            "DELETE hashes :hashes",
            "contains(hashes, :hash)",
            {":hashes": {proof.hash}, ":hash": proof.hash},
        ),
    )


def _reset_failures(user_id: str, now: int, epoch: tuple[int, int] | None = None) -> dict[str, Any]:
    """A successful second factor clears the failure count, unless a lockout began meanwhile.
    With `epoch` (old, new) it also revokes every session minted under the old epoch."""
    update = "SET failures = :zero"
    condition = "locked_until <= :now"
    values: dict[str, Any] = {":zero": 0, ":now": now}
    if epoch is not None:
        update += ", session_epoch = :new_epoch"
        condition += " AND session_epoch = :old_epoch"
        values.update({":old_epoch": epoch[0], ":new_epoch": epoch[1]})
    return _update(_key(_user(user_id), "PROFILE"), update, condition, values)


def _move_session_epoch(user_id: str, token_hash: str, epoch: int, now: int) -> dict[str, Any]:
    """Keep the caller's own session alive across an epoch change."""
    return _update(
        _key(f"TOKEN#{user_id}", token_hash),
        "SET session_epoch = :epoch",
        "expires_at > :now",
        {":epoch": epoch, ":now": now},
    )


# -- marshalling -------------------------------------------------------------------------


def _snake(operation: str) -> str:
    return "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in operation).lstrip("_")


def _dump(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {name: serializer.serialize(value) for name, value in item.items() if value is not None}


def _dump_values(values: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {name: serializer.serialize(value) for name, value in values.items()}


def _load(raw: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {name: _plain(deserializer.deserialize(value)) for name, value in raw.items()}


def _plain(value: Any) -> Any:
    """DynamoDB numbers arrive as Decimal; every number we store is an integer."""
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "value") and isinstance(value.value, bytes):  # boto3 Binary
        return bytes(value.value)
    if isinstance(value, set):
        return {_plain(v) for v in value}
    return value
