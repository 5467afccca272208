"""What operators see: structured JSON logs and CloudWatch metrics, through Powertools for AWS Lambda.

On Lambda every log record, ours, Chalice's and the SDK's, is one JSON line: level, logger,
location, message, timestamp, the X-Ray trace id, and the invocation's keys: `function`,
`function_request_id`, and for the API `request_id` (API Gateway's, as in its access logs),
`method`, `route` (the route's template, never the path) and `user_id` once a token names the
caller. Metrics are counted in memory and written as one line in CloudWatch's Embedded
Metric Format at the end of the invocation: CloudWatch makes them metrics in the namespace
AEGIS_METRICS_NAMESPACE with the dimension service=aegis-2fa, which the alarms in
infra/template.json watch.

Elsewhere (tests, notebooks, `make run`) both are off until `enable` is called, so nothing
extra is printed. Services count with one line, `observability.count(observability.SIGN_INS)`.
Keys carry ids and routes only: never a secret, a code, a token or an email address.
Powertools is imported on the first invocation, not with `app`.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

SERVICE = "aegis-2fa"  # the `service` key of every log line and the metrics' one dimension
DEFAULT_NAMESPACE = "aegis-2fa"

# The metrics (unit Count), by the name CloudWatch shows.
SIGN_INS = "SignIns"  # a session issued by the password step or the code step
WRONG_PASSWORDS = "WrongPasswords"  # a wrong password counted (from the 10th in a row, answered 429)
WRONG_CODES = "WrongCodes"  # a wrong, used or replayed TOTP or backup code
LOCKOUTS = "Lockouts"  # a second-factor lockout began
NOTICES_SENT = "NoticesSent"  # enforcement notices emailed by the queue worker
RESETS_REQUESTED = "ResetsRequested"  # support resets requested
RESETS_COMPLETED = "ResetsCompleted"  # support resets carried out after their waiting period


class _Telemetry:
    """The JSON handler on the root logger and the metrics, while enabled."""

    def __init__(self, stream: IO[str], namespace: str, level: int) -> None:
        from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
        from aws_lambda_powertools.metrics import Metrics

        self.formatter = LambdaPowertoolsFormatter(utc=True, use_rfc3339=True, service=SERVICE, name="%(name)s")
        self.handler = logging.StreamHandler(stream)
        self.handler.setFormatter(self.formatter)
        self.metrics = Metrics(namespace=namespace, service=SERVICE)
        self.counted = False
        root = logging.getLogger()
        self._previous = (list(root.handlers), root.level)
        # One handler for every logger: the Lambda runtime's own text handler would write each
        # record a second time.
        root.handlers = [self.handler]
        root.setLevel(level)

    def restore(self) -> None:
        root = logging.getLogger()
        root.handlers, level = self._previous
        root.setLevel(level)


_telemetry: _Telemetry | None = None


def running_on_lambda() -> bool:
    return "AWS_LAMBDA_FUNCTION_NAME" in os.environ


def enable(stream: IO[str] | None = None, level: int = logging.INFO) -> None:
    """JSON logs to `stream` (stdout on Lambda) and metrics from now on."""
    global _telemetry
    disable()
    namespace = os.environ.get("AEGIS_METRICS_NAMESPACE", DEFAULT_NAMESPACE)
    _telemetry = _Telemetry(stream or sys.stdout, namespace, level)


def disable() -> None:
    """Back to how logging was before `enable` (tests)."""
    global _telemetry
    if _telemetry is not None:
        _telemetry.restore()
        _telemetry = None


@contextmanager
def invocation(**keys: Any) -> Iterator[None]:
    """Around one invocation: its keys on every log line, its metrics written when it ends,
    whether it returns or raises."""
    if _telemetry is None and running_on_lambda():
        enable()
    telemetry = _telemetry
    if telemetry is None:
        yield
        return
    telemetry.formatter.clear_state()
    telemetry.formatter.append_keys(**{name: value for name, value in keys.items() if value is not None})
    try:
        yield
    finally:
        if telemetry.counted:
            telemetry.metrics.flush_metrics()
            telemetry.counted = False


def identify(user_id: str) -> None:
    """The caller is known: every later log line of this invocation names them."""
    if _telemetry is not None:
        _telemetry.formatter.append_keys(user_id=user_id)


def count(metric: str, value: int = 1) -> None:
    if _telemetry is not None and value:
        from aws_lambda_powertools.metrics import MetricUnit

        _telemetry.metrics.add_metric(name=metric, unit=MetricUnit.Count, value=value)
        _telemetry.counted = True
