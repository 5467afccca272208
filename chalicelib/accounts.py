"""Accounts and sessions: sign-up, the password step, tokens, sign-out."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, NoReturn

from . import enforcement, observability, passwords, tokens
from .dependencies import Dependencies
from .errors import Conflict, InvalidCredentials, TemporarilyUnavailable, TooManyPasswords, Unauthorized
from .records import NewToken, Organization, PasswordCounter, Profile, UserState
from .storage import ConditionFailed, password_counters
from .storage.table import Part
from .storage.users import upgrade_password_part
from .worker import password_pause_message

logger = logging.getLogger(__name__)

COUNT_ATTEMPTS = 10  # writes tried when concurrent wrong passwords keep counting first


@dataclass(frozen=True)
class Principal:
    """Who is calling, with the token they used and what we know of them."""

    user_id: str
    token_hash: str
    kind: str
    state: UserState

    @property
    def email(self) -> str:
        return self.state.profile.email


def sign_up(deps: Dependencies, email: str, password: str) -> dict[str, str]:
    user_id = tokens.new_id(deps.randomness)
    profile = Profile(user_id, email, passwords.hash_password(password, deps.settings, deps.randomness))
    try:
        deps.users.create_user(profile, deps.clock.now())
    except ConditionFailed:
        raise Conflict("email_taken", "An account with this email already exists.") from None
    return {"user_id": user_id, "email": email}


def sign_in(deps: Dependencies, email: str, password: str) -> dict[str, Any]:
    """The password step. With 2FA on it yields a challenge; past an organization's deadline
    without 2FA, only an enrollment token.

    An address without an account takes the same path as a wrong password, request for request
    (DESIGN.md, "Throttling"): one BatchGetItem (the address and its counter), one Query (the
    user's partition; for no account, one that does not exist), one Argon2id hash and one
    counting write; a pause that starts also hands a notice to the queue."""
    now = deps.clock.now()
    user_id, counter = deps.password_counters.lookup(email, now)
    if counter.paused_until > now:
        raise TooManyPasswords(counter.paused_until - now)  # refused unchecked, right or wrong
    state = deps.users.load_user(user_id or _no_account(email))
    if state is None:
        passwords.burn_equal_time(password, deps.settings)
        _count_wrong_password(deps, email, None, counter)
    if not passwords.verify_password(password, state.profile.password_hash, deps.settings):
        _count_wrong_password(deps, email, state.profile.email, counter)
    return _after_correct_password(deps, email, password, state, counter)


def _no_account(email: str) -> str:
    """A user id no account has (ours are UUIDs), whose partition the password step reads for
    an unknown address so that it makes the same Query as for a real one."""
    return f"none-{passwords.email_digest(email)[:32]}"


def _count_wrong_password(deps: Dependencies, email: str, owner: str | None, counter: PasswordCounter) -> NoReturn:
    """Count one wrong password with a conditional write; from the 10th, pause and answer 429.
    If another request counted first, read again and count on top of it. `owner` is the
    account's email, None for an address without one."""
    observability.count(observability.WRONG_PASSWORDS)
    for _ in range(COUNT_ATTEMPTS):
        now = deps.clock.now()
        if counter.paused_until > now:
            raise TooManyPasswords(counter.paused_until - now)  # another request started a pause
        count = passwords.count_wrong_password(counter.failures, counter.notified_at, now)
        try:
            deps.password_counters.record_wrong_password(email, counter, count, now, tokens.new_id(deps.randomness))
        except ConditionFailed:
            counter = deps.password_counters.get(email, now)
            continue
        if count.notify:
            _hand_over_pause_notice(deps, owner, count.paused_until)
        if count.paused_until:
            raise TooManyPasswords(count.paused_until - now)
        raise InvalidCredentials()
    raise TemporarilyUnavailable()  # nothing was counted by this request


def _hand_over_pause_notice(deps: Dependencies, owner: str | None, until: int) -> None:
    """The queue worker emails the owner; the message goes for an unknown address too."""
    try:
        deps.queue.send([password_pause_message(owner, until)])
    except TemporarilyUnavailable:
        # The count stands (a 503 would claim nothing changed); only this notice is lost.
        logger.warning("password pause notice not queued")


def _after_correct_password(
    deps: Dependencies, email: str, password: str, state: UserState, counter: PasswordCounter
) -> dict[str, Any]:
    """A correct password that was not refused clears the wrong-password count, whether or not
    2FA is on: only someone who knows the password can, and it gains them nothing they lack.
    (The second-factor counter is another matter: only a second factor clears it.) An older
    hash is replaced by one at today's parameters. Both go with the token, in one request."""
    parts: list[Part] = []
    if counter.failures:
        parts.append(password_counters.reset_part(email, deps.clock.now()))
    stored = state.profile.password_hash
    if passwords.needs_upgrade(stored, deps.settings):
        new_hash = passwords.hash_password(password, deps.settings, deps.randomness)
        parts.append(upgrade_password_part(state.profile.user_id, stored, new_hash))
    while True:
        try:
            return _tokens_for(deps, state, tuple(parts))
        except ConditionFailed as failed:
            if "counter" in failed.parts:
                # A pause began since we read, or the counter was forgotten meanwhile.
                now = deps.clock.now()
                fresh = deps.password_counters.get(email, now)
                if fresh.paused_until > now:
                    raise TooManyPasswords(fresh.paused_until - now) from None
            # Or the hash changed meanwhile (another sign-in upgraded it): it can wait for the next.
            remaining = [part for part in parts if part[0] not in failed.parts]
            if len(remaining) == len(parts):
                raise  # not a condition of ours: cannot happen, but never loop on it
            parts = remaining


def _tokens_for(deps: Dependencies, state: UserState, parts: tuple[Part, ...]) -> dict[str, Any]:
    if state.two_factor_enabled:
        token, expires_at = issue_token(deps, state, tokens.CHALLENGE, parts)
        return {
            "status": "two_factor_required",
            "challenge_token": token,
            "methods": ["totp", "backup_code"],
            "expires_at": expires_at,
        }

    now = deps.clock.now()
    owed = organizations_owing_enrollment(deps, state)
    locked = [(org, deadline) for org, deadline in owed if deadline <= now]
    if locked:
        token, expires_at = issue_token(deps, state, tokens.ENROLLMENT, parts)
        return {
            "status": "enrollment_required",
            "enrollment_token": token,
            "expires_at": expires_at,
            "organizations": [{"org_id": org.org_id, "name": org.name} for org, _ in locked],
        }
    token, expires_at = issue_token(deps, state, tokens.SESSION, parts)
    result = {"status": "signed_in", "session_token": token, "expires_at": expires_at}
    deadline = enforcement.earliest_deadline([deadline for _, deadline in owed])
    if deadline is not None:
        result["two_factor_deadline"] = _format(deadline)
    observability.count(observability.SIGN_INS)
    return result


def organizations_owing_enrollment(deps: Dependencies, state: UserState) -> list[tuple[Organization, int]]:
    """The organizations that require 2FA of this user, each with its deadline for them."""
    if not state.org_ids or state.two_factor_enabled:
        return []
    owed = []
    for org, member in deps.orgs.organizations_of(state.profile.user_id, state.org_ids):
        deadline = enforcement.member_deadline(
            required=org.require_two_factor,
            enforced_at=org.enforced_at,
            role=member.role,
            sso=member.sso,
            two_factor_enabled=False,
        )
        if deadline is not None:
            owed.append((org, deadline))
    return owed


def issue_token(deps: Dependencies, state: UserState, kind: str, parts: tuple[Part, ...] = ()) -> tuple[str, str]:
    """A new token of `kind`, written with `parts` in one request."""
    token = tokens.new_token(state.profile.user_id, deps.randomness)
    expires_at = deps.clock.now() + tokens.LIFETIMES[kind]
    deps.users.put_token(
        state.profile.user_id, NewToken(tokens.token_hash(token), kind, expires_at, state.profile.session_epoch), parts
    )
    return token, _format(expires_at)


def new_session(deps: Dependencies, user_id: str, epoch: int) -> tuple[str, NewToken]:
    """A session token and its record, for a caller that writes it in its own transaction."""
    token = tokens.new_token(user_id, deps.randomness)
    expires_at = deps.clock.now() + tokens.SESSION_SECONDS
    return token, NewToken(tokens.token_hash(token), tokens.SESSION, expires_at, epoch)


def authenticate(deps: Dependencies, authorization: str | None, kinds: frozenset[str]) -> Principal:
    """The caller behind `Authorization: Bearer <token>`, if the token is valid for this use.
    Every failure is the same 401, whatever the reason."""
    scheme, _, token = (authorization or "").partition(" ")
    parsed = tokens.parse_token(token.strip()) if scheme.lower() == "bearer" else None
    if parsed is None:
        raise Unauthorized()
    user_id, token_hash = parsed
    record, state = deps.users.load_token_holder(user_id, token_hash)
    now = deps.clock.now()
    if (
        record is None
        or state is None
        or record.kind not in kinds
        or record.expires_at <= now  # TTL deletes late: expired means absent
        or (record.kind != tokens.CHALLENGE and record.session_epoch != state.profile.session_epoch)
    ):
        raise Unauthorized()
    if record.kind == tokens.SESSION and _past_a_deadline(deps, state, now):
        raise Unauthorized()  # signing in again yields an enrollment token
    return Principal(user_id, token_hash, record.kind, state)


def _past_a_deadline(deps: Dependencies, state: UserState, now: int) -> bool:
    """A member who owes 2FA loses their sessions at the deadline, not only new sign-ins.
    Only users with 2FA off who belong to an organization pay the read this takes."""
    return any(deadline <= now for _, deadline in organizations_owing_enrollment(deps, state))


def sign_out(deps: Dependencies, principal: Principal) -> None:
    deps.users.delete_token(principal.user_id, principal.token_hash)


def _format(epoch_seconds: int) -> str:
    from .clock import format_time

    formatted = format_time(epoch_seconds)
    assert formatted is not None
    return formatted
