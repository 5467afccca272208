"""AWS clients, created on first use, and the one translation of AWS failures.

Creating clients lazily keeps `import app` cheap; caching them keeps warm Lambda
invocations from paying for them again.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from .errors import TemporarilyUnavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")
_creating = threading.Lock()


@functools.cache
def _session() -> Any:
    """One session for every client: each new session reloads the SDK's endpoint and
    service data, which costs more than the client itself."""
    import boto3

    return boto3.session.Session()


# botocore logs request and response bodies at DEBUG, and a KMS response body holds
# the plaintext data key: those loggers never go below INFO, whatever the root level.
_BODY_LOGGERS = ("botocore", "boto3", "urllib3")


@functools.cache
def client(service: str) -> Any:
    from botocore.config import Config

    for name in _BODY_LOGGERS:
        if logging.getLogger(name).level < logging.INFO:  # NOTSET would follow the root down
            logging.getLogger(name).setLevel(logging.INFO)

    config = Config(
        # Three attempts in all. (botocore's `max_attempts` counts retries: 3 made four, and
        # four slow attempts could outlast API Gateway's 29 seconds and end as a bare 504.)
        retries={"mode": "standard", "total_max_attempts": 3},
        connect_timeout=2,
        read_timeout=5,
    )
    with _creating:  # a botocore session is not thread-safe
        return _session().client(service, config=config)


def reset_clients() -> None:
    """Forget cached clients (tests start a fresh moto mock per test)."""
    client.cache_clear()


@contextmanager
def unavailable_on_aws_error(operation: str) -> Iterator[None]:
    """Turn throttling, timeouts and service faults into 503 after the SDK's own retries.

    Only the operation name and the error code are logged: AWS error messages can
    echo request parameters.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "Unknown")
        logger.warning("AWS call %s failed: %s", operation, code)
        raise TemporarilyUnavailable() from None
    except BotoCoreError as error:
        logger.warning("AWS call %s failed: %s", operation, type(error).__name__)
        raise TemporarilyUnavailable() from None


def call(operation: str, function: Callable[..., T], **kwargs: Any) -> T:
    with unavailable_on_aws_error(operation):
        return function(**kwargs)
