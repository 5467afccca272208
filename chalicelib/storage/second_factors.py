"""A user's second factor: the TOTP secret and the backup codes.

    USER#<uid>  TOTP     status (pending until confirmed, then active), secret (sealed by
                         `EnvelopeCipher`: encrypted data key, nonce, ciphertext, key id),
                         created_at, last_step (the last accepted time step: replays are
                         refused), enabled_at, pending_expires_at
    USER#<uid>  BACKUP   salt, hashes (string set of the unused backup codes' SHA-256), created_at

Every use of a code is one transaction whose conditions repeat the checks the service
made (step not replayed, backup code unused, no lockout begun), so concurrent requests
cannot both win.
"""

from __future__ import annotations

from typing import Any

from ..records import (
    ACTIVE,
    PENDING,
    AuditEvent,
    BackupCodeHash,
    BackupCodeHashes,
    NewToken,
    Proof,
    TotpState,
    TotpStep,
)
from . import audit
from .support import reset_key
from .table import Part, Table, condition_check, delete, key, put, update
from .users import consume_token, move_session_epoch, reset_failures, token_item, user_pk

_STATUS = {"#status": "status"}


def totp_key(user_id: str) -> dict[str, Any]:
    return key(user_pk(user_id), "TOTP")


def backup_key(user_id: str) -> dict[str, Any]:
    return key(user_pk(user_id), "BACKUP")


class SecondFactors:
    def __init__(self, table: Table) -> None:
        self._table = table

    def put_pending_enrollment(self, user_id: str, sealed: dict[str, Any], now: int, expires_at: int) -> None:
        """Start or replace a pending enrollment. ConditionFailed({'totp'}) if 2FA is active."""
        from .table import dump

        self._table.conditional(
            "PutItem",
            "totp",
            Item=dump(
                {
                    "pk": user_pk(user_id),
                    "sk": "TOTP",
                    "status": PENDING,
                    "secret": sealed,
                    "created_at": now,
                    "pending_expires_at": expires_at,
                }
            ),
            ConditionExpression="attribute_not_exists(pk) OR #status = :pending",
            ExpressionAttributeNames=_STATUS,
            ExpressionAttributeValues={":pending": {"S": PENDING}},
        )

    def enabled_among(self, user_ids: list[str]) -> set[str]:
        """The users among `user_ids` whose 2FA is on: one batched read per 100."""
        found = self._table.batch_get([(user_pk(uid), "TOTP") for uid in user_ids])
        return {item["pk"].removeprefix("USER#") for item in found.values() if item.get("status") == ACTIVE}

    def sign_in_with_second_factor(
        self, user_id: str, challenge_hash: str, proof: Proof, session: NewToken, now: int, event: AuditEvent
    ) -> None:
        self._table.transact(
            [
                ("challenge", consume_token(user_id, challenge_hash, now)),
                _consume_proof(user_id, proof),
                ("throttle", reset_failures(user_id, now)),
                ("session", put(token_item(user_id, session))),
                audit.part(event),
            ],
            marker=audit.marker(event),
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
        event: AuditEvent,
    ) -> None:
        """Confirm the pending enrollment: active secret and backup codes in one transaction;
        other sessions revoked by moving the session epoch. `pending_nonce` names the sealed
        secret the code was checked against: if the enrollment was restarted meanwhile (even
        in the same second), the secret is not the one the user confirmed."""
        parts: list[Part] = [
            (
                "totp",
                update(
                    totp_key(user_id),
                    "SET #status = :active, last_step = :step, enabled_at = :now REMOVE pending_expires_at",
                    "#status = :pending AND #secret.nonce = :nonce AND pending_expires_at > :now",
                    {":active": ACTIVE, ":pending": PENDING, ":step": step, ":now": now, ":nonce": pending_nonce},
                    names={**_STATUS, "#secret": "secret"},
                ),
            ),
            ("backup", put(_backup_item(user_id, backup, now))),
            ("throttle", reset_failures(user_id, now, epoch)),
            audit.part(event),
        ]
        if new_session is None:
            parts.append(("token", move_session_epoch(user_id, current_token_hash, epoch[1], now)))
        else:
            parts.append(("token", consume_token(user_id, current_token_hash, now)))
            parts.append(("session", put(token_item(user_id, new_session))))
        self._table.transact(parts, marker=audit.marker(event))

    def replace_backup_codes(
        self, user_id: str, step: int, backup: BackupCodeHashes, now: int, event: AuditEvent
    ) -> None:
        self._table.transact(
            [
                _consume_proof(user_id, TotpStep(step)),
                ("backup", put(_backup_item(user_id, backup, now), condition="attribute_exists(pk)")),
                ("throttle", reset_failures(user_id, now)),
                audit.part(event),
            ],
            marker=audit.marker(event),
        )

    def deactivate_two_factor(
        self,
        user_id: str,
        proof: Proof,
        epoch: tuple[int, int],
        current_session_hash: str,
        now: int,
        event: AuditEvent,
        *,
        memberships: int,
        policies_off: list[str],
    ) -> None:
        """Delete the secret and all backup codes together; revoke other sessions.

        Holds only while the organizations in `policies_off` (those that would require 2FA of
        this user if they enforced it) do not require it, and while the user's memberships are
        as read (`memberships`): so joining, a role change or a policy change racing this
        write cannot leave a member who owes 2FA without it. ConditionFailed({'policy'}) or
        ({'throttle'}) when they changed meanwhile."""
        if isinstance(proof, TotpStep):
            parts: list[Part] = [
                (
                    "proof",
                    delete(
                        totp_key(user_id),
                        "#status = :active AND (attribute_not_exists(last_step) OR last_step < :step)",
                        {":active": ACTIVE, ":step": proof.step},
                        names=_STATUS,
                    ),
                ),
                ("backup", delete(backup_key(user_id))),
            ]
        else:
            parts = [
                ("totp", delete(totp_key(user_id), "#status = :active", {":active": ACTIVE}, names=_STATUS)),
                ("proof", delete(backup_key(user_id), "contains(hashes, :hash)", {":hash": proof.hash})),
            ]
        parts += [
            # A pending support reset has nothing left to do once the user turned 2FA off.
            ("reset", delete(reset_key(user_id))),
            ("throttle", reset_failures(user_id, now, epoch, memberships=memberships)),
            ("token", move_session_epoch(user_id, current_session_hash, epoch[1], now)),
            audit.part(event),
        ]
        parts += [
            ("policy", condition_check(key(f"ORG#{org_id}", "ORG"), "require_two_factor = :off", {":off": False}))
            for org_id in policies_off
        ]
        self._table.transact(parts, marker=audit.marker(event))


def totp_of(item: dict[str, Any] | None) -> TotpState | None:
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


def backup_codes_of(item: dict[str, Any] | None) -> BackupCodeHashes | None:
    if item is None:
        return None
    return BackupCodeHashes(salt=item["salt"], hashes=frozenset(item.get("hashes", set())))


def two_factor_active_part(user_id: str) -> Part:
    """Holds while the user's 2FA is on: joining or a role change that would owe it checks this."""
    return ("two_factor", condition_check(totp_key(user_id), "#status = :active", {":active": ACTIVE}, _STATUS))


def _backup_item(user_id: str, backup: BackupCodeHashes, now: int) -> dict[str, Any]:
    return {
        "pk": user_pk(user_id),
        "sk": "BACKUP",
        "salt": backup.salt,
        "hashes": set(backup.hashes),
        "created_at": now,
    }


def _consume_proof(user_id: str, proof: Proof) -> Part:
    if isinstance(proof, TotpStep):
        # Replay protection: only a step later than the last accepted one is written.
        return (
            "proof",
            update(
                totp_key(user_id),
                "SET last_step = :step",
                "#status = :active AND (attribute_not_exists(last_step) OR last_step < :step)",
                {":step": proof.step, ":active": ACTIVE},
                names=_STATUS,
            ),
        )
    assert isinstance(proof, BackupCodeHash)
    # Single use: the hash leaves the set only if it is still in it.
    return (
        "proof",
        update(
            backup_key(user_id),
            "DELETE hashes :hashes",
            "contains(hashes, :hash)",
            {":hashes": {proof.hash}, ":hash": proof.hash},
        ),
    )
