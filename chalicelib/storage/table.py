"""The layer every store shares: one DynamoDB table, marshalling, conditions and transactions.

Only the modules of `chalicelib/storage/` speak DynamoDB. A failed condition surfaces as
`ConditionFailed` naming the parts that failed; any other AWS failure is a 503
(`aws.unavailable_on_aws_error`).

Writes are safe to retry (DESIGN.md, "Idempotent writes"): an attempt that timed out may
still have committed. Every transaction carries a `ClientRequestToken`, so DynamoDB
answers the SDK's retry as it answered the first attempt, and names a *marker*, an item
only that transaction creates (its audit event, or the new account or organization). If
the call fails, by a condition or by an AWS error, yet the marker exists, the write had
committed: the caller is told it succeeded. So a 503 means nothing changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from .. import aws
from ..errors import TemporarilyUnavailable

TRANSACTION_LIMIT = 100
BATCH_GET_LIMIT = 100
DEADLINE_INDEX = "deadline-index"

Key = tuple[str, str]
Part = tuple[str, dict[str, Any]]  # (label naming a condition, TransactItem)


class ConditionFailed(Exception):
    def __init__(self, parts: set[str]) -> None:
        super().__init__(", ".join(sorted(parts)))
        self.parts = parts


class Table:
    def __init__(self, dynamodb: Callable[[], Any], name: str) -> None:
        self._db = dynamodb
        self.name = name

    # -- reads -------------------------------------------------------------------------------

    def call(self, operation: str, **kwargs: Any) -> Any:
        return aws.call(f"dynamodb.{operation}", getattr(self._db(), _snake(operation)), **kwargs)

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self.call("GetItem", TableName=self.name, Key=key(pk, sk), ConsistentRead=True)
        return load(response["Item"]) if "Item" in response else None

    def batch_get(self, keys: list[Key]) -> dict[Key, dict[str, Any]]:
        found: dict[Key, dict[str, Any]] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), BATCH_GET_LIMIT):
            pending: list[dict[str, Any]] = [key(pk, sk) for pk, sk in unique[start : start + BATCH_GET_LIMIT]]
            while pending:
                response = self.call(
                    "BatchGetItem", RequestItems={self.name: {"Keys": pending, "ConsistentRead": True}}
                )
                for raw in response["Responses"].get(self.name, []):
                    item = load(raw)
                    found[(item["pk"], item["sk"])] = item
                pending = response.get("UnprocessedKeys", {}).get(self.name, {}).get("Keys", [])
        return found

    def query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every item the query matches, page after page."""
        while True:
            items, last = self.query_page(**kwargs)
            yield from items
            if last is None:
                return
            kwargs["ExclusiveStartKey"] = last

    def query_page(self, **kwargs: Any) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page: its items and the key to continue after, or None at the end."""
        response = self.call("Query", TableName=self.name, **kwargs)
        return [load(raw) for raw in response["Items"]], response.get("LastEvaluatedKey")

    # -- writes ------------------------------------------------------------------------------

    def put(self, item: dict[str, Any]) -> None:
        self.call("PutItem", TableName=self.name, Item=dump(item))

    def delete(self, pk: str, sk: str) -> None:
        self.call("DeleteItem", TableName=self.name, Key=key(pk, sk))

    def conditional(self, operation: str, part: str, **kwargs: Any) -> Any:
        """A single-item write with a condition; ConditionFailed({part}) if it does not hold."""
        from botocore.exceptions import ClientError

        with aws.unavailable_on_aws_error(f"dynamodb.{operation}"):
            try:
                return getattr(self._db(), _snake(operation))(TableName=self.name, **kwargs)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                    raise ConditionFailed({part}) from None
                raise

    def transact(self, parts: list[Part], marker: Key) -> None:
        """All or nothing. `marker` is an item this transaction alone creates: finding it after a
        failed attempt means an earlier attempt of this same call committed."""
        try:
            self._transact_once(parts)
        except (ConditionFailed, TemporarilyUnavailable):
            try:
                committed = self.get(*marker) is not None
            except TemporarilyUnavailable:
                committed = False
            if not committed:
                raise

    def _transact_once(self, parts: list[Part]) -> None:
        from botocore.exceptions import ClientError

        assert len(parts) <= TRANSACTION_LIMIT, "a transaction holds at most 100 items"
        for _, item in parts:
            next(iter(item.values()))["TableName"] = self.name
        with aws.unavailable_on_aws_error("dynamodb.TransactWriteItems"):
            try:
                # The SDK resends the same token on its retries; DynamoDB then answers a retry
                # of a committed transaction with success instead of failing its conditions.
                self._db().transact_write_items(
                    TransactItems=[item for _, item in parts], ClientRequestToken=str(uuid.uuid4())
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons = error.response.get("CancellationReasons") or []
                failed = {
                    label
                    for (label, _), reason in zip(parts, reasons, strict=False)
                    if reason.get("Code") == "ConditionalCheckFailed"
                }
                if not failed:
                    raise  # a conflict or throttle: nothing was written, report unavailable
                raise ConditionFailed(failed) from None


# -- keys and transaction parts ----------------------------------------------------------------


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def due_sort_key(at: int, suffix: str) -> str:
    """Sort key in the deadline index: zero-padded time first, so a range query reads what is due."""
    return f"{at:012d}#{suffix}"


def put(item: dict[str, Any], condition: str | None = None, values: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"Item": dump(item)}
    if condition:
        body["ConditionExpression"] = condition
    if values:
        body["ExpressionAttributeValues"] = dump_values(values)
    return {"Put": body}


def update(
    item_key: dict[str, Any],
    expression: str,
    condition: str | None,
    values: dict[str, Any],
    names: dict[str, str] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Key": item_key,
        "UpdateExpression": expression,
        "ExpressionAttributeValues": dump_values(values),
    }
    if condition:
        body["ConditionExpression"] = condition
    if names:
        body["ExpressionAttributeNames"] = names
    return {"Update": body}


def delete(
    item_key: dict[str, Any],
    condition: str | None = None,
    values: dict[str, Any] | None = None,
    names: dict[str, str] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"Key": item_key}
    if condition:
        body["ConditionExpression"] = condition
    if values:
        body["ExpressionAttributeValues"] = dump_values(values)
    if names:
        body["ExpressionAttributeNames"] = names
    return {"Delete": body}


def condition_check(
    item_key: dict[str, Any], condition: str, values: dict[str, Any] | None = None, names: dict[str, str] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"Key": item_key, "ConditionExpression": condition}
    if values:
        body["ExpressionAttributeValues"] = dump_values(values)
    if names:
        body["ExpressionAttributeNames"] = names
    return {"ConditionCheck": body}


# -- marshalling ---------------------------------------------------------------------------------


def _snake(operation: str) -> str:
    return "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in operation).lstrip("_")


def dump(item: dict[str, Any]) -> dict[str, Any]:
    """An item in DynamoDB's wire format; None values are left out."""
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {name: serializer.serialize(value) for name, value in item.items() if value is not None}


def dump_values(values: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {name: serializer.serialize(value) for name, value in values.items()}


def load(raw: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {name: _plain(deserializer.deserialize(value)) for name, value in raw.items()}


def _plain(value: Any) -> Any:
    """DynamoDB numbers arrive as Decimal; every number we store is an integer."""
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "value") and isinstance(value.value, bytes):  # boto3 Binary
        return bytes(value.value)
    if isinstance(value, set):
        return {_plain(v) for v in value}
    return value
