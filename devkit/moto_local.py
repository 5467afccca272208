"""moto's DynamoDB, made to hold a sustained load: for `make run` and for the test harness.

moto 5 keeps DynamoDB items in plain dicts and serves each request on its own thread, with
no locking. Its `TransactWriteItems` deep-copies every table the transaction names, so that
it can roll back, and its `Query` looks at every item of the table to find one partition.
Under load that fails three ways:

- requests race on the same dicts: `dictionary changed size during iteration`, and two
  conditional writes to one item can both succeed;
- each transaction costs time in proportion to the whole table, until calls outlast the
  SDK's read timeout and the API answers 503;
- each query does too, and most requests make one.

`install()` changes these, in this process only (the moto server of `make run` and the
in-process mock of the harness both serve from it):

1. One lock around every DynamoDB request moto serves (the request's parsing, the backend
   call and the response), so requests apply one at a time, each as atomically as on
   DynamoDB.
2. `TransactWriteItems` copies only the items it is about to touch, and on any failure puts
   exactly those back: its cost follows the transaction, not the table. The outcome is
   moto's own: all or nothing, the same exceptions, the same `CancellationReasons`.
3. A `Query` of the table (not of an index) is handed only its partition's items, which are
   the ones moto would have kept from the whole table, in the same order.
4. moto's server remembers which service each host name means. It otherwise lists its own
   package directory and tries hundreds of URL patterns on every request, under a lock:
   about a millisecond and a half of each DynamoDB, KMS or SES call.
5. The results of the item operations (GetItem, BatchGetItem, Query, Scan, PutItem,
   UpdateItem, DeleteItem) are written with `json.dumps`: they already are the wire format
   but for binary values, which are base64-encoded as moto's serializer does. That
   serializer, which walks them against the service model, took about half of such a
   request's time.

Development only: nothing under `chalicelib/` imports this, and the Lambda package does not
contain it. `install()` refuses to run against a moto whose versions of the functions it
replaces or relies on differ from the ones reviewed here.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import inspect
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

# sha256 of the moto 5.2.5 sources this module relies on: `transact_write_items` below mirrors
# the first line by line; `query_one_partition` relies on the second reading a table's items
# only through `all_items()`; remembering the third's answers relies on it depending on the
# host name alone. A moto upgrade that changes any of them must be reviewed.
REVIEWED_SOURCES = {
    "DynamoDBBackend.transact_write_items": "81db2cb7d94e39c90b3a2077e1f4bb41a449c558ef9b1b1e2910fdaa39978ad4",
    "Table.query": "002b4d00be6df07cf37f6cbe0132e5eb89455ae12a8e79b23db3fb492450f21e",
    "DomainDispatcherApplication.get_backend_for_host": (
        "1f41972c1e4e660fbf4e4ddfeeed2fdff56dc105a8f8e1bf015640f710ef511a"
    ),
    "BaseResponse.serialized": "af486a0ef132716231d3a6484c32ae91a54b40fbc1d24fff01c78c813d251110",
}
PLAIN_JSON_ACTIONS = ("GetItem", "BatchGetItem", "Query", "Scan", "PutItem", "UpdateItem", "DeleteItem")
JSON_CONTENT_TYPE = "application/x-amz-json-1.0"  # DynamoDB's protocol, as moto's serializer sets it

_install_lock = threading.Lock()
_installed = False
_moto_transact_write_items: Callable[..., None] | None = None  # moto's own, once install() has run
_moto_query: Callable[..., Any] | None = None
_moto_serialized: Callable[..., Any] | None = None
dynamodb_lock = threading.RLock()  # re-entrant: a request served inside another never deadlocks
# Requests that change no table; any other request counts as a write.
READ_ACTIONS = frozenset(
    {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems", "DescribeTable", "ListTables"}
)
_writes = 0
_index_views: dict[tuple[int, str], tuple[int, list[Any]]] = {}  # (table, index) -> (writes seen, items)


def install() -> None:
    """Serialize moto's DynamoDB, journal transactions, query one partition, remember hosts. Idempotent."""
    global _installed, _moto_transact_write_items, _moto_query, _moto_serialized
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    with _install_lock:
        if _installed:
            return
        for name, digest in source_digests().items():
            if digest != REVIEWED_SOURCES[name]:
                raise RuntimeError(
                    f"moto's {name} is not the version devkit/moto_local.py was written against "
                    f"(sha256 {digest}). Review the module against it, then update REVIEWED_SOURCES."
                )
        _moto_transact_write_items = DynamoDBBackend.transact_write_items
        _moto_query = Table.query
        _moto_serialized = DynamoHandler.serialized
        DynamoHandler.call_action = _one_at_a_time(DynamoHandler.call_action)  # type: ignore[method-assign]
        DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign,assignment]
        Table.query = query_one_partition  # type: ignore[method-assign,assignment]
        DynamoHandler.serialized = serialized_as_plain_json  # type: ignore[method-assign,assignment]
        DomainDispatcherApplication.get_backend_for_host = _remembered(  # type: ignore[method-assign,assignment]
            DomainDispatcherApplication.get_backend_for_host
        )
        _installed = True


def source_digests() -> dict[str, str]:
    """The sha256 of each function named in REVIEWED_SOURCES, as moto has it (before install())."""
    from moto.core.responses import BaseResponse
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    functions = {
        "DynamoDBBackend.transact_write_items": _moto_transact_write_items or DynamoDBBackend.transact_write_items,
        "Table.query": _moto_query or Table.query,
        "DomainDispatcherApplication.get_backend_for_host": inspect.unwrap(
            DomainDispatcherApplication.get_backend_for_host
        ),
        "BaseResponse.serialized": BaseResponse.serialized,
    }
    return {
        name: hashlib.sha256(inspect.getsource(function).encode()).hexdigest() for name, function in functions.items()
    }


def _one_at_a_time(call_action: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(call_action)
    def locked(handler: Any) -> Any:
        global _writes
        with dynamodb_lock:
            if handler._get_action() not in READ_ACTIONS:
                _writes += 1  # the index views below are rebuilt before the next query reads them
            return call_action(handler)

    return locked


def _remembered(get_backend_for_host: Callable[[Any, str | None], Any]) -> Callable[[Any, str | None], Any]:
    backends: dict[str | None, Any] = {}

    @functools.wraps(get_backend_for_host)
    def remembered(dispatcher: Any, host: str | None) -> Any:
        if host not in backends:
            backends[host] = get_backend_for_host(dispatcher, host)
        return backends[host]

    return remembered


# -- Responses -------------------------------------------------------------------------------


def serialized_as_plain_json(handler: Any, action_result: Any) -> Any:
    """moto's `serialized` for DynamoDB, with an item operation's result written by `json.dumps`.

    Like moto's serializer, it keeps only the fields of the operation's output shape, leaves
    out empty ones and base64-encodes binary values. Anything else that JSON cannot hold (a
    time) sends the result to moto's serializer.
    """
    from moto.dynamodb.responses import DynamoResult

    assert _moto_serialized is not None
    action = handler._get_action()
    if action not in PLAIN_JSON_ACTIONS or type(action_result) is not DynamoResult:
        return _moto_serialized(handler, action_result)
    fields = _output_fields(action)
    fields_found: dict[str, Any] = cast(dict[str, Any], action_result.result)
    result = {name: value for name, value in fields_found.items() if name in fields and value is not None}
    try:
        body = json.dumps(result, default=_base64)
    except TypeError:
        return _moto_serialized(handler, action_result)
    return 200, {"Content-Type": JSON_CONTENT_TYPE, **handler.response_headers}, body


def _base64(value: Any) -> str:
    if isinstance(value, bytes):  # the B and BS attribute values
        return base64.b64encode(value).decode()
    raise TypeError(type(value).__name__)


@functools.cache
def _output_fields(action: str) -> frozenset[str]:
    from moto.core.utils import get_service_model

    return frozenset(get_service_model("dynamodb").operation_model(action).output_shape.members)


# -- Query -----------------------------------------------------------------------------------


def query_one_partition(table: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
    """moto's `Table.query`, shown only the partition it asks for when it queries the table itself,
    and only the items that carry the index's keys when it queries an index.

    moto keeps the items whose hash key matches from `all_items()`, the whole table sorted, then
    sorts them by range key; the partition's dict holds exactly those items, in the same order.
    For an index it is handed only the items that have the index's hash key attribute (a sparse
    index holds no others; moto itself drops those without its range key), and it sorts what it
    keeps by the index's keys and the table's, which are unique: the order it is handed does not
    matter, and the whole table need not be sorted first.
    """
    assert _moto_query is not None
    index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
    if hash_key is None or not table.has_range_key:
        return _moto_query(table, hash_key, *args, **kwargs)
    # .get: indexing the partitions' defaultdict would add the key
    items = _index_view(table, index_name) if index_name else list(table.items.get(hash_key, {}).values())
    table.all_items = lambda: items  # for this call only; the lock keeps other requests out
    try:
        return _moto_query(table, hash_key, *args, **kwargs)
    finally:
        del table.all_items


def _index_view(table: Any, index_name: str) -> list[Any]:
    """The items that carry the index's hash key attribute, kept until the next write: the hourly
    function queries a sparse index of a large table, and only writes change what it holds."""
    view = _index_views.get((id(table), index_name))
    if view is None or view[0] != _writes:
        schema = table.get_index(index_name).schema
        hash_attribute = next(key["AttributeName"] for key in schema if key["KeyType"] == "HASH")
        items = [
            item for partition in table.items.values() for item in partition.values() if hash_attribute in item.attrs
        ]
        view = (_writes, items)
        _index_views[(id(table), index_name)] = view
    return view[1]


# -- TransactWriteItems ------------------------------------------------------------------------


@dataclass
class _Slot:
    """One item as it was before the transaction, enough to put it back."""

    table: Any
    hash_key: Any
    range_key: Any
    partition_existed: bool  # range-key tables keep a dict per hash key; a read can create it
    before: Any  # a deep copy of the Item, or None if there was none


@dataclass
class TouchedItems:
    """The journal of a transaction: a copy of each item it touches, taken before the first touch."""

    backend: Any
    slots: dict[tuple[str, Any, Any], _Slot] = field(default_factory=dict)

    def remember(self, table_name: str, key: dict[str, Any]) -> None:
        from moto.dynamodb.exceptions import MockValidationException, ResourceNotFoundException

        try:
            table = self.backend.get_table(table_name)
            hash_key, range_key = self.backend.get_keys_value(table, key)
        except (ResourceNotFoundException, MockValidationException):
            return  # the operation itself fails the same way, before it changes anything
        slot = (table.name, hash_key, range_key)
        if slot in self.slots:
            return
        partition = table.items.get(hash_key)  # .get: indexing the defaultdict would add the key
        if not table.has_range_key:
            before = partition  # a hash-only table keeps the Item itself under its hash key
        elif partition is not None:
            before = partition.get(range_key)
        else:
            before = None
        self.slots[slot] = _Slot(table, hash_key, range_key, partition is not None, copy.deepcopy(before))

    def restore(self) -> None:
        for slot in self.slots.values():
            items = slot.table.items
            if not slot.table.has_range_key:
                if slot.before is None:
                    items.pop(slot.hash_key, None)
                else:
                    items[slot.hash_key] = slot.before
                continue
            if slot.before is not None:
                items[slot.hash_key][slot.range_key] = slot.before
                continue
            partition = items.get(slot.hash_key)
            if partition is not None:
                partition.pop(slot.range_key, None)
                if not partition and not slot.partition_existed:
                    del items[slot.hash_key]


def _streams_on(backend: Any, transact_items: list[dict[str, Any]]) -> bool:
    """Whether a table of the transaction has a stream, whose records a journal would not undo."""
    for item in transact_items:
        _, op = next(iter(item.items()))
        table = backend.tables.get(op.get("TableName"))
        if table is not None and table.stream_shard is not None:
            return True
    return False


def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto's `transact_write_items`, with a journal of touched items in place of table copies.

    Same order of checks and writes as moto, so later parts see earlier ones, every part is
    evaluated and `CancellationReasons` has one entry per part. One difference: moto keeps the
    parts written before a `TransactWriteSingleOpException`; this rolls them back too.
    """
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if _streams_on(backend, transact_items):
        assert _moto_transact_write_items is not None
        _moto_transact_write_items(backend, transact_items)
        return
    if len(transact_items) > 100:
        raise TooManyTransactionsException()

    touched = TouchedItems(backend)
    target_items: set[tuple[str, str]] = set()

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        target = (str(table_name), str(dict(sorted(key.items()))))
        if target in target_items:
            raise MultipleTransactionsException()
        target_items.add(target)

    errors: list[tuple[str, str, dict[str, Any]] | tuple[None, None, None]] = []  # (Code, Message, Item)
    try:
        for item in transact_items:
            original_item: dict[str, Any] | None = None
            if len(list(item.keys())) > 1:
                raise TransactWriteSingleOpException
            try:
                op_type, op = next(iter(item.items()))
                if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                    raise ValueError("Unsupported transaction operation")
                table_name = op["TableName"]
                condition_expression = op.get("ConditionExpression")
                names = op.get("ExpressionAttributeNames")
                values = op.get("ExpressionAttributeValues")
                return_values_on_condition_check_failure = op.get("ReturnValuesOnConditionCheckFailure")

                if op_type == "Put":
                    attrs = op["Item"]
                    table = backend.get_table(table_name)
                    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = attrs[table.range_key_attr]
                else:
                    key = op["Key"]

                check_unicity(table_name, key)
                touched.remember(table_name, key)

                current = backend.get_item(table_name, key)
                if condition_expression is not None:
                    condition_op = get_filter_expression(condition_expression, names, values)
                    if not condition_op.expr(current):
                        if return_values_on_condition_check_failure == "ALL_OLD" and current:
                            original_item = current.to_json()["Attributes"]
                        raise ConditionalCheckFailed(item=original_item)

                if op_type == "Put":
                    backend.put_item(
                        table_name,
                        op["Item"],
                        condition_expression=condition_expression,
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
                elif op_type == "Delete":
                    backend.delete_item(
                        table_name,
                        key,
                        condition_expression=condition_expression,
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
                elif op_type == "Update":
                    backend.update_item(
                        table_name,
                        key,
                        update_expression=op["UpdateExpression"],
                        condition_expression=condition_expression,
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
                errors.append((None, None, None))
            except (MultipleTransactionsException, MockValidationException):
                raise  # a ValidationException for the whole request, not a cancellation reason
            except ConditionalCheckFailed as error:
                errors.append(("ConditionalCheckFailed", str(error.message), original_item))  # type: ignore[arg-type]
            except Exception as error:  # moto lists any other failure as that part's reason
                errors.append((type(error).__name__, str(error), original_item))  # type: ignore[arg-type]
    except BaseException:
        touched.restore()
        raise

    if any(code is not None for code, _, _ in errors):
        touched.restore()
        raise TransactionCanceledException(errors)
