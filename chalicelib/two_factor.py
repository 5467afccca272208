"""The two-factor lifecycle: enrollment, the code step of sign-in, backup codes, disabling.

Each use case checks the throttle, verifies the second factor, then makes its
change in one transaction whose conditions repeat the checks (step not replayed,
backup code unused, no lockout begun), so concurrent requests cannot both win.
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn

from . import backup_codes, enforcement, notifications, observability, tokens, totp
from .accounts import Principal, new_session
from .audit import audit_event
from .cipher import encryption_context
from .clock import format_time
from .dependencies import Dependencies
from .errors import Conflict, InvalidCode, NotFound, TemporarilyUnavailable, TooManyAttempts, Unauthorized
from .records import BackupCodeHash, BackupCodeHashes, Proof, TotpState, TotpStep, UserState
from .storage import ConditionFailed

logger = logging.getLogger(__name__)

ENROLLMENT_SECONDS = 15 * 60
LOCKOUT_AFTER = 5  # consecutive failures before attempts are refused
FIRST_LOCKOUT_SECONDS = 60
LONGEST_LOCKOUT_SECONDS = 3600
TOTP_PURPOSE = "totp"
DISABLE_ATTEMPTS = 3  # decisions made again when memberships or a policy change under us


def lockout_seconds(failures: int) -> int:
    """1 minute at the 5th consecutive failure, doubling with each further one, at most 1 hour."""
    if failures < LOCKOUT_AFTER:
        return 0
    return int(min(FIRST_LOCKOUT_SECONDS * 2 ** (failures - LOCKOUT_AFTER), LONGEST_LOCKOUT_SECONDS))


# -- enrollment ----------------------------------------------------------------------------


def start_enrollment(deps: Dependencies, principal: Principal) -> dict[str, Any]:
    if principal.state.two_factor_enabled:
        raise _already_enabled()
    now = deps.clock.now()
    secret = totp.new_secret(deps.randomness)
    sealed = deps.cipher.seal(secret.encode(), encryption_context(principal.user_id, TOTP_PURPOSE))
    try:
        deps.second_factors.put_pending_enrollment(principal.user_id, sealed, now, now + ENROLLMENT_SECONDS)
    except ConditionFailed:
        raise _already_enabled() from None
    uri = totp.provisioning_uri(secret, principal.email)
    return {
        "secret": secret,
        "otpauth_uri": uri,
        "qr_svg": totp.qr_svg(uri),
        "expires_at": format_time(now + ENROLLMENT_SECONDS),
    }


def confirm_enrollment(deps: Dependencies, principal: Principal, code: str) -> dict[str, Any]:
    now = deps.clock.now()
    pending = principal.state.totp
    if pending is None or pending.active or (pending.pending_expires_at or 0) <= now:
        raise NotFound("There is no pending enrollment; start one first.")
    _refuse_if_locked(principal.state, now)
    step = _matching_step(deps, principal, pending, code)
    if step is None:
        _count_failure(deps, principal.state)
        raise InvalidCode()

    codes, hashes = _new_backup_codes(deps)
    epoch = _next_epoch(principal.state)
    session_token, session = (
        new_session(deps, principal.user_id, epoch[1]) if principal.kind == tokens.ENROLLMENT else (None, None)
    )
    try:
        deps.second_factors.activate_two_factor(
            principal.user_id,
            pending.sealed_secret["nonce"],
            step,
            hashes,
            epoch,
            principal.token_hash,
            session,
            now,
            audit_event(deps, principal.user_id, "two_factor_enabled"),
        )
    except ConditionFailed as failed:
        _refused(deps, failed, principal, stale=NotFound("There is no pending enrollment; start one first."))
    deps.mailer.send(notifications.two_factor_enabled(principal.email))
    result: dict[str, Any] = {"enabled": True, "backup_codes": codes}
    if session is not None:
        result.update(session_token=session_token, expires_at=format_time(session.expires_at))
        observability.count(observability.SIGN_INS)
    return result


# -- the code step of sign-in ----------------------------------------------------------------


def verify_sign_in(
    deps: Dependencies, principal: Principal, code: str | None, backup_code: str | None
) -> dict[str, Any]:
    """Second step of sign-in with the challenge token. A success consumes the challenge."""
    now = deps.clock.now()
    state = principal.state
    if not state.two_factor_enabled:
        raise Unauthorized()  # 2FA was turned off since the password step: start again
    _refuse_if_locked(state, now)
    proof = _prove(deps, principal, code, backup_code)
    if proof is None:
        _count_failure(deps, state)
        raise InvalidCode()

    session_token, session = new_session(deps, principal.user_id, state.profile.session_epoch)
    used_backup = isinstance(proof, BackupCodeHash)
    try:
        deps.second_factors.sign_in_with_second_factor(
            principal.user_id,
            principal.token_hash,
            proof,
            session,
            now,
            audit_event(deps, principal.user_id, "signed_in_with_backup_code" if used_backup else "signed_in"),
        )
    except ConditionFailed as failed:
        _refused(deps, failed, principal, stale=Unauthorized())
    remaining = state.backup_codes_remaining - (1 if used_backup else 0)
    if used_backup:
        deps.mailer.send(notifications.backup_code_used(principal.email, remaining))
    observability.count(observability.SIGN_INS)
    return {
        "status": "signed_in",
        "session_token": session_token,
        "expires_at": format_time(session.expires_at),
        "backup_codes_remaining": remaining,
    }


# -- backup codes and disabling --------------------------------------------------------------


def regenerate_backup_codes(deps: Dependencies, principal: Principal, code: str) -> dict[str, Any]:
    now = deps.clock.now()
    state = principal.state
    if not state.two_factor_enabled:
        raise _not_enabled()
    _refuse_if_locked(state, now)
    proof = _prove(deps, principal, code, None)
    if proof is None:
        _count_failure(deps, state)
        raise InvalidCode()
    assert isinstance(proof, TotpStep)
    codes, hashes = _new_backup_codes(deps)
    try:
        deps.second_factors.replace_backup_codes(
            principal.user_id, proof.step, hashes, now, audit_event(deps, principal.user_id, "backup_codes_regenerated")
        )
    except ConditionFailed as failed:
        _refused(deps, failed, principal, stale=_not_enabled())
    deps.mailer.send(notifications.backup_codes_regenerated(principal.email))
    return {"backup_codes": codes}


def disable(deps: Dependencies, principal: Principal, code: str | None, backup_code: str | None) -> dict[str, Any]:
    now = deps.clock.now()
    state = principal.state
    if not state.two_factor_enabled:
        raise _not_enabled()
    policies_off = _organizations_that_must_not_require(deps, principal.user_id, state.profile.org_ids)
    _refuse_if_locked(state, now)
    proof = _prove(deps, principal, code, backup_code)
    if proof is None:
        _count_failure(deps, state)
        raise InvalidCode()
    profile = state.profile
    for _ in range(DISABLE_ATTEMPTS):
        try:
            deps.second_factors.deactivate_two_factor(
                principal.user_id,
                proof,
                (profile.session_epoch, profile.session_epoch + 1),
                principal.token_hash,
                now,
                audit_event(deps, principal.user_id, "two_factor_disabled"),
                memberships=profile.memberships,
                policies_off=policies_off,
            )
            break
        except ConditionFailed as failed:
            fresh = deps.users.get_profile(principal.user_id)
            moved = fresh is not None and fresh.memberships != profile.memberships
            if "policy" not in failed.parts and not ("throttle" in failed.parts and moved):
                _refused(deps, failed, principal, stale=_not_enabled())
            # An organization turned enforcement on, or the user joined one or changed role,
            # since we read: decide again on what is there now.
            assert fresh is not None
            profile = fresh
            policies_off = _organizations_that_must_not_require(deps, principal.user_id, profile.org_ids)
    else:
        raise TemporarilyUnavailable()
    deps.mailer.send(notifications.two_factor_disabled(principal.email))
    return {"enabled": False}


# -- shared steps ----------------------------------------------------------------------------


def _prove(deps: Dependencies, principal: Principal, code: str | None, backup_code: str | None) -> Proof | None:
    """What proves the second factor, or None if the code is wrong, used or replayed."""
    state = principal.state
    if backup_code is not None:
        if state.backup is None:
            return None
        found = backup_codes.find_hash(state.backup.salt, backup_code, set(state.backup.hashes))
        return BackupCodeHash(found) if found else None
    assert code is not None and state.totp is not None
    step = _matching_step(deps, principal, state.totp, code)
    return TotpStep(step) if step is not None else None


def _matching_step(deps: Dependencies, principal: Principal, state: TotpState, code: str) -> int | None:
    secret = deps.cipher.open(state.sealed_secret, encryption_context(principal.user_id, TOTP_PURPOSE))
    if secret is None:
        # Not this user's secret (a copied record): no code can match it.
        logger.error("TOTP secret of user %s does not decrypt under its own context", principal.user_id)
        return None
    return totp.matching_step(secret.decode(), code, deps.clock.now(), after_step=state.last_step)


def _new_backup_codes(deps: Dependencies) -> tuple[list[str], BackupCodeHashes]:
    codes = backup_codes.generate(deps.randomness)
    salt = deps.randomness.token_bytes(16)
    return codes, BackupCodeHashes(salt, backup_codes.hash_all(salt, codes))


def _next_epoch(state: UserState) -> tuple[int, int]:
    return state.profile.session_epoch, state.profile.session_epoch + 1


def _refuse_if_locked(state: UserState, now: int) -> None:
    if state.profile.locked_until > now:
        raise TooManyAttempts(state.profile.locked_until - now)


def _count_failure(deps: Dependencies, state: UserState) -> None:
    """Count one failed attempt with a conditional write; start a lockout at the 5th.
    If another request counted first, read again and count on top of it."""
    observability.count(observability.WRONG_CODES)
    profile = state.profile
    for _ in range(5):
        now = deps.clock.now()
        if profile.locked_until > now:
            raise TooManyAttempts(profile.locked_until - now)
        failures = profile.failures + 1
        locked_until = now + lockout_seconds(failures) if failures >= LOCKOUT_AFTER else 0
        try:
            deps.users.record_failure(
                profile.user_id, profile.failures, failures, locked_until, now, tokens.new_id(deps.randomness)
            )
        except ConditionFailed:
            fresh = deps.users.get_profile(profile.user_id)
            if fresh is None:
                return
            profile = fresh
            continue
        if locked_until:
            observability.count(observability.LOCKOUTS)
            deps.audit_log.record(
                audit_event(deps, profile.user_id, "second_factor_lockout", "system", {"until": str(locked_until)})
            )
            deps.mailer.send(notifications.second_factor_lockout(profile.email, locked_until))
        return


def _refused(deps: Dependencies, failed: ConditionFailed, principal: Principal, stale: Exception) -> NoReturn:
    """Answer for a transaction whose conditions failed between our read and our write."""
    now = deps.clock.now()
    if failed.parts == {"proof"}:
        # The code was replayed or the backup code used meanwhile: a failed attempt.
        _count_failure(deps, principal.state)
        raise InvalidCode() from None
    if "throttle" in failed.parts:
        profile = deps.users.get_profile(principal.user_id)
        if profile is not None and profile.locked_until > now:
            raise TooManyAttempts(profile.locked_until - now) from None
    raise stale from None


def _organizations_that_must_not_require(deps: Dependencies, user_id: str, org_ids: tuple[str, ...]) -> list[str]:
    """The organizations whose policy the disable must find off: those where this user is not
    exempt. 409 if one of them requires 2FA now (B6)."""
    pairs = deps.orgs.organizations_of(user_id, org_ids)
    if any(org.require_two_factor and not enforcement.is_exempt(m.role, m.sso) for org, m in pairs):
        raise Conflict(
            "org_requires_two_factor", "An organization you belong to requires 2FA, so it cannot be turned off."
        )
    return [org.org_id for org, member in pairs if not enforcement.is_exempt(member.role, member.sso)]


def _already_enabled() -> Conflict:
    return Conflict("already_enabled", "Two-factor authentication is already on.")


def _not_enabled() -> Conflict:
    return Conflict("not_enabled", "Two-factor authentication is not on.")
