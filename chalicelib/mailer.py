"""Email through SES. A failed email is logged and reported, never raised:
it must not undo or block the change it tells the user about."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    body: str
    kind: str  # names the template in logs, which never carry the body


class Mailer(Protocol):
    def send(self, email: Email) -> bool: ...


class SesMailer:
    def __init__(self, ses: Callable[[], Any], sender: str, configuration_set: str = "") -> None:
        self._ses = ses
        self._sender = sender
        # SES's reputation metrics (bounce and complaint rates) and its sending controls
        # apply to the emails sent with the configuration set.
        self._options = {"ConfigurationSetName": configuration_set} if configuration_set else {}

    def send(self, email: Email) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._ses().send_email(
                Source=self._sender,
                Destination={"ToAddresses": [email.to]},
                Message={
                    "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": email.body, "Charset": "UTF-8"}},
                },
                **self._options,
            )
        except (ClientError, BotoCoreError) as error:
            code = getattr(error, "response", {}).get("Error", {}).get("Code", type(error).__name__)
            logger.warning("email %s not sent: %s", email.kind, code)
            return False
        return True
