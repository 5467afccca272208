"""Accounts and sessions: sign-up, the password step, tokens, sign-out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import enforcement, observability, passwords, tokens
from .dependencies import Dependencies
from .errors import Conflict, InvalidCredentials, Unauthorized
from .records import NewToken, Organization, Profile, UserState
from .storage import ConditionFailed


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
    without 2FA, only an enrollment token."""
    user_id = deps.users.user_id_for_email(email)
    state = deps.users.load_user(user_id) if user_id else None
    if state is None:
        passwords.burn_equal_time(password, deps.settings)
        observability.count(observability.WRONG_PASSWORDS)
        raise InvalidCredentials()
    if not passwords.verify_password(password, state.profile.password_hash):
        observability.count(observability.WRONG_PASSWORDS)
        raise InvalidCredentials()

    if state.two_factor_enabled:
        token, expires_at = issue_token(deps, state, tokens.CHALLENGE)
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
        token, expires_at = issue_token(deps, state, tokens.ENROLLMENT)
        return {
            "status": "enrollment_required",
            "enrollment_token": token,
            "expires_at": expires_at,
            "organizations": [{"org_id": org.org_id, "name": org.name} for org, _ in locked],
        }
    token, expires_at = issue_token(deps, state, tokens.SESSION)
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


def issue_token(deps: Dependencies, state: UserState, kind: str) -> tuple[str, str]:
    token = tokens.new_token(state.profile.user_id, deps.randomness)
    expires_at = deps.clock.now() + tokens.LIFETIMES[kind]
    deps.users.put_token(
        state.profile.user_id, NewToken(tokens.token_hash(token), kind, expires_at, state.profile.session_epoch)
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
