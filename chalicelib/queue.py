"""The work queue (SQS): the hourly function and the API hand work to the queue worker.

Messages are small JSON objects with a `kind` (see `worker.py`). SQS with Lambda is the
distributed engine: the worker's concurrency, retries and the dead-letter queue come
from it, not from code of ours.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, Protocol

from . import aws
from .errors import TemporarilyUnavailable

logger = logging.getLogger(__name__)

SEND_BATCH_LIMIT = 10  # SendMessageBatch takes at most 10 messages
SEND_ATTEMPTS = 3


class Queue(Protocol):
    def send(self, messages: list[dict[str, Any]]) -> None: ...


class SqsQueue:
    def __init__(self, sqs: Callable[[], Any], queue_url: str) -> None:
        self._sqs = sqs
        self._url = queue_url

    def send(self, messages: list[dict[str, Any]]) -> None:
        """Enqueue every message, or raise TemporarilyUnavailable: some may have been sent,
        which is safe, since the worker does nothing twice."""
        for start in range(0, len(messages), SEND_BATCH_LIMIT):
            batch = messages[start : start + SEND_BATCH_LIMIT]
            entries = [
                {"Id": str(number), "MessageBody": json.dumps(message, sort_keys=True, separators=(",", ":"))}
                for number, message in enumerate(batch)
            ]
            for _ in range(SEND_ATTEMPTS):
                response = aws.call(
                    "sqs.SendMessageBatch", self._sqs().send_message_batch, QueueUrl=self._url, Entries=entries
                )
                failures = response.get("Failed", [])
                if any(failure.get("SenderFault") for failure in failures):
                    raise ValueError("the queue refused a message as malformed")
                failed = {failure["Id"] for failure in failures}
                entries = [entry for entry in entries if entry["Id"] in failed]  # throttled: send again
                if not entries:
                    break
            else:
                logger.warning("SQS did not take %d messages", len(entries))
                raise TemporarilyUnavailable()
