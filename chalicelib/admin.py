"""Operator commands, run with AWS credentials; no API can do these.

    python -m chalicelib.admin grant-support EMAIL

Uses AEGIS_TABLE_NAME (and the usual AWS_* variables, AWS_ENDPOINT_URL for the
`make run` stack) to find the table.
"""

from __future__ import annotations

import argparse
import sys

from . import validation, wiring
from .audit import audit_event
from .errors import ServiceError
from .storage import ConditionFailed


def grant_support(email: str) -> str:
    """Give the user with this email the support role; returns their user id."""
    deps = wiring.dependencies()
    user_id = deps.users.user_id_for_email(validation.email(email))
    if user_id is None:
        raise LookupError(f"no user has the email {email}")
    try:
        deps.users.grant_support(user_id, audit_event(deps, user_id, "support_role_granted", "operator"))
    except ConditionFailed:
        raise LookupError(f"no user has the email {email}") from None
    return user_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.admin", description=(__doc__ or "").split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    grant = commands.add_parser("grant-support", help="give a user the support role")
    grant.add_argument("email")
    args = parser.parse_args(argv)
    from botocore.exceptions import BotoCoreError

    try:
        user_id = grant_support(args.email)
    except (LookupError, ServiceError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except BotoCoreError as error:  # no region or credentials: the operator's setup, not ours
        print(f"error: AWS is not configured: {error}", file=sys.stderr)
        return 1
    print(f"granted the support role to {args.email} ({user_id})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
