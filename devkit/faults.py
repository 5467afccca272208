"""AWS misbehaving on purpose, for the notebooks (claim B14): a request the SDK sends twice after
it committed, and a DynamoDB operation that is throttled.

Both work on the application's own cached client (`chalicelib.aws.client`), with botocore's
event hooks, so the application cannot tell them from AWS.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

THROTTLED = "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"


@contextmanager
def resent_after_commit(*operations: str) -> Iterator[Counter[str]]:
    """Each call of these DynamoDB operations is sent twice: the first attempt commits, then the
    SDK sends the same request again, as it does after a read timeout. Counts the resends."""
    from chalicelib import aws

    client = aws.client("dynamodb")
    resent: Counter[str] = Counter()

    def resend_once(attempts: int, response: Any, operation: Any, **_: Any) -> Any:
        if attempts == 1 and response is not None and response[0].status_code == 200:
            resent[operation.name] += 1
            return 0  # retry at once
        return None

    events = [f"needs-retry.dynamodb.{operation}" for operation in operations]
    for event in events:
        client.meta.events.register(event, resend_once)
    try:
        yield resent
    finally:
        for event in events:
            client.meta.events.unregister(event, resend_once)


class _Body(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.read()


@contextmanager
def throttled(operation: str) -> Iterator[Counter[str]]:
    """Every attempt of this DynamoDB operation is answered by AWS's throttling error, before it
    reaches the table; the SDK retries as it would on AWS (without sleeping). Counts the attempts."""
    import botocore.endpoint
    from botocore.awsrequest import AWSResponse

    from chalicelib import aws

    client = aws.client("dynamodb")
    attempts: Counter[str] = Counter()

    def answer(request: Any, **_: Any) -> AWSResponse:
        attempts[operation] += 1
        request.url = "https://throttled.invalid/"  # nothing behind it: the table never sees the request
        body = json.dumps({"__type": THROTTLED, "message": "Rate of requests exceeds the allowed throughput."})
        headers = {"x-amzn-RequestId": "throttled", "Content-Type": "application/x-amz-json-1.0"}
        return AWSResponse(request.url, 400, headers, _Body(body.encode()))

    event = f"before-send.dynamodb.{operation}"
    sleep = botocore.endpoint.time.sleep
    botocore.endpoint.time.sleep = lambda seconds: None  # the SDK's backoff, skipped
    client.meta.events.register_first(event, answer)
    try:
        yield attempts
    finally:
        client.meta.events.unregister(event, answer)
        botocore.endpoint.time.sleep = sleep
