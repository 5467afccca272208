"""The text of every email the service sends. None of them carries a secret or a code."""

from __future__ import annotations

from .clock import format_time
from .mailer import Email

__all__ = ["Email"]

SIGNATURE = "\n\nIf this wasn't you, contact support@aegisrunner.com right away.\n— AegisRunner security"


def two_factor_enabled(to: str) -> Email:
    return Email(
        to,
        "Two-factor authentication is on",
        "Two-factor authentication was turned on for "
        "your AegisRunner account. Other sessions were signed out." + SIGNATURE,
        "two_factor_enabled",
    )


def two_factor_disabled(to: str) -> Email:
    return Email(
        to,
        "Two-factor authentication is off",
        "Two-factor authentication was turned off for "
        "your AegisRunner account. Your secret and backup codes were deleted, and other "
        "sessions were signed out." + SIGNATURE,
        "two_factor_disabled",
    )


def backup_code_used(to: str, remaining: int) -> Email:
    return Email(
        to,
        "A backup code was used",
        f"A backup code was used to sign in to your AegisRunner "
        f"account. You have {remaining} unused backup codes left." + SIGNATURE,
        "backup_code_used",
    )


def backup_codes_regenerated(to: str) -> Email:
    return Email(
        to,
        "New backup codes",
        "New backup codes were generated for your AegisRunner account. "
        "All earlier backup codes no longer work." + SIGNATURE,
        "backup_codes_regenerated",
    )


def second_factor_lockout(to: str, until: int) -> Email:
    return Email(
        to,
        "Too many wrong two-factor codes",
        "Several wrong two-factor codes were entered for "
        f"your AegisRunner account, so code entry is paused until {format_time(until)}." + SIGNATURE,
        "second_factor_lockout",
    )


def password_pause(to: str, until: int) -> Email:
    return Email(
        to,
        "Too many wrong passwords",
        "Many wrong passwords were entered for your AegisRunner account, so signing in is paused "
        f"until {format_time(until)}. If it happens again today, we will not email you again." + SIGNATURE,
        "password_pause",
    )


def enforcement_started(to: str, org_name: str, deadline: int) -> Email:
    return Email(
        to,
        f"{org_name} requires two-factor authentication",
        f"{org_name} now requires two-factor authentication. Turn it on before "
        f"{format_time(deadline)} in Settings → Security, or you will have to enroll at your "
        "next sign-in.",
        "enforcement_started",
    )


def enforcement_reminder(to: str, org_name: str, deadline: int, days_left: int) -> Email:
    unit = "day" if days_left == 1 else "days"
    return Email(
        to,
        f"{days_left} {unit} left to turn on two-factor authentication",
        f"{org_name} requires two-factor authentication. You have {days_left} {unit} left, "
        f"until {format_time(deadline)}, to turn it on in Settings → Security.",
        f"enforcement_reminder_{days_left}",
    )


def enforcement_lockout(to: str, org_name: str) -> Email:
    # Also the first notice of a member who joined while enforcement was on: no grace period
    # is mentioned, since they never had one.
    return Email(
        to,
        "Two-factor authentication is now required",
        f"{org_name} requires two-factor authentication, and your deadline has come. At your next "
        "sign-in you will be asked to turn it on before you can continue.",
        "enforcement_lockout",
    )


def invitation(to: str, org_name: str, inviter: str, role: str, link: str, expires_at: int) -> Email:
    # The one email that carries a token: following its link is how the invitee consents.
    article = "an admin" if role == "admin" else "a member"
    return Email(
        to,
        f"{inviter} invites you to {org_name} on AegisRunner",
        f"{inviter} invites you to join {org_name} on AegisRunner as {article}. To accept, open this "
        f"link and sign in (or create an account with this address) before {format_time(expires_at)}:\n\n"
        f"{link}\n\nIf you do not want to join, ignore this email or decline the invitation in "
        "Settings. Nobody joins an organization without accepting.",
        "invitation",
    )


def invitation_accepted(to: str, member: str, org_name: str) -> Email:
    return Email(
        to, f"{member} joined {org_name}", f"{member} accepted your invitation to {org_name}.", "invitation_accepted"
    )


def invitation_declined(to: str, member: str, org_name: str) -> Email:
    return Email(
        to,
        f"{member} declined to join {org_name}",
        f"{member} declined your invitation to {org_name}.",
        "invitation_declined",
    )


def membership_changed(to: str, org_name: str, role: str, sso: bool) -> Email:
    sign_in = "through your organization's single sign-on" if sso else "with your email and password"
    return Email(
        to,
        f"Your role in {org_name} changed",
        f"You are now {'an admin' if role == 'admin' else 'an owner' if role == 'owner' else 'a member'} of "
        f"{org_name}, and sign in {sign_in}." + SIGNATURE,
        "membership_changed",
    )


def member_removed(to: str, org_name: str) -> Email:
    return Email(
        to,
        f"You were removed from {org_name}",
        f"You are no longer a member of {org_name} on AegisRunner. Its settings, including any "
        "two-factor requirement, no longer apply to your account." + SIGNATURE,
        "member_removed",
    )


def support_reset_requested(to: str, effective_at: int) -> Email:
    return Email(
        to,
        "Two-factor reset requested",
        "AegisRunner support received a request to reset "
        f"two-factor authentication on your account. It will happen at {format_time(effective_at)}. "
        "If you did not ask for this, cancel it in Settings → Security." + SIGNATURE,
        "support_reset_requested",
    )


def support_reset_cancelled(to: str) -> Email:
    return Email(
        to,
        "Two-factor reset cancelled",
        "The pending two-factor reset on your AegisRunner account was cancelled." + SIGNATURE,
        "support_reset_cancelled",
    )


def support_reset_completed(to: str) -> Email:
    return Email(
        to,
        "Two-factor authentication was reset",
        "As requested through support, two-factor "
        "authentication on your AegisRunner account was turned off and your secret and backup "
        "codes were deleted. Sign in and turn it on again with your new device." + SIGNATURE,
        "support_reset_completed",
    )
