"""The local stack holds a sustained load (devkit/moto_local.py, scripts/bench_local_stack.py).

moto's TransactWriteItems with a journal of touched items instead of table copies must keep
moto's all-or-nothing outcome, a query of one partition must answer as moto's own does, one
lock must make moto's threaded server safe, and `make run` must answer a sustained load,
8 requests at a time, with no 5xx.
"""

import contextlib
import copy
import http.client
import json
import re
import socket
import threading
import time
from collections import Counter

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from devkit import moto_local, stack

TABLE = stack.LOCAL_ENVIRONMENT["AEGIS_TABLE_NAME"]


def key(pk, sk):
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def item(pk, sk, **attrs):
    return {**key(pk, sk), **{name: {"S": value} for name, value in attrs.items()}}


def put(entry, condition=None):
    body = {"TableName": TABLE, "Item": entry}
    if condition:
        body["ConditionExpression"] = condition
    return {"Put": body}


def update(pk, sk, expression, values=None, condition=None, names=None):
    body = {"TableName": TABLE, "Key": key(pk, sk), "UpdateExpression": expression}
    if values:
        body["ExpressionAttributeValues"] = values
    if condition:
        body["ConditionExpression"] = condition
    if names:
        body["ExpressionAttributeNames"] = names
    return {"Update": body}


def delete(pk, sk, condition=None):
    body = {"TableName": TABLE, "Key": key(pk, sk)}
    if condition:
        body["ConditionExpression"] = condition
    return {"Delete": body}


def check(pk, sk, condition):
    return {"ConditionCheck": {"TableName": TABLE, "Key": key(pk, sk), "ConditionExpression": condition}}


def dump(h):
    return sorted(h.table_items(), key=lambda entry: (entry["pk"]["S"], entry["sk"]["S"]))


def due_entries():
    """Everything in the deadline index (moto computes its indexes from the items at query time)."""
    dynamodb = stack.client("dynamodb")
    return dynamodb.scan(TableName=TABLE, IndexName="deadline-index")["Items"]


@pytest.fixture
def table(h):
    """The harness's table with three items: A, B (in the deadline index) and C."""
    dynamodb = stack.client("dynamodb")
    dynamodb.put_item(TableName=TABLE, Item=item("P#1", "A", state="a"))
    dynamodb.put_item(TableName=TABLE, Item=item("P#1", "B", state="b", due_pk="DUE#0", due_sk="001"))
    dynamodb.put_item(TableName=TABLE, Item=item("P#2", "C", state="c"))
    return dynamodb


FAILING_MIXES = {
    "put, update, delete, then a failed condition check": [
        put(item("P#3", "NEW", state="new", due_pk="DUE#1", due_sk="002")),
        update("P#1", "A", "SET #s = :s", {":s": {"S": "changed"}}, names={"#s": "state"}),
        delete("P#1", "B"),
        check("P#2", "C", "attribute_not_exists(pk)"),
    ],
    "a failed condition first, then writes": [
        update("P#1", "A", "SET #s = :x", {":x": {"S": "x"}, ":no": {"S": "no"}}, "#s = :no", {"#s": "state"}),
        put(item("P#1", "A2", state="a2")),
        delete("P#2", "C"),
    ],
    "an overwrite and an update that creates an item, then a failed put condition": [
        put(item("P#1", "A", state="overwritten")),
        update("P#9", "CREATED", "SET #s = :s", {":s": {"S": "created"}}, names={"#s": "state"}),
        put(item("P#2", "C", state="c2"), "attribute_not_exists(pk)"),
    ],
    "updates in and out of the index around a failed delete condition": [
        update("P#1", "B", "REMOVE due_pk, due_sk"),
        delete("P#2", "C", "attribute_not_exists(pk)"),
        update("P#2", "D", "SET due_pk = :p, due_sk = :s", {":p": {"S": "DUE#2"}, ":s": {"S": "003"}}),
    ],
}


@pytest.mark.parametrize("mix", FAILING_MIXES, ids=list(FAILING_MIXES))
def test_a_failed_transaction_leaves_the_table_and_its_index_unchanged(h, table, mix):
    parts = copy.deepcopy(FAILING_MIXES[mix])
    before, index_before = dump(h), due_entries()

    with pytest.raises(ClientError) as raised:
        table.transact_write_items(TransactItems=parts)

    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert dump(h) == before
    assert due_entries() == index_before


def test_cancellation_reasons_name_each_part_that_failed(h, table):
    parts = [
        check("P#1", "A", "attribute_exists(pk)"),
        put(item("P#1", "B", state="b2"), "attribute_not_exists(pk)"),
        delete("P#2", "C"),
        check("P#2", "NOPE", "attribute_exists(pk)"),
    ]

    with pytest.raises(ClientError) as raised:
        table.transact_write_items(TransactItems=parts)

    reasons = [reason["Code"] for reason in raised.value.response["CancellationReasons"]]
    assert reasons == ["None", "ConditionalCheckFailed", "None", "ConditionalCheckFailed"]


def test_a_passing_transaction_applies_every_part(h, table):
    table.transact_write_items(
        TransactItems=[
            put(item("P#3", "NEW", state="new")),
            update("P#1", "A", "SET #s = :s", {":s": {"S": "changed"}, ":a": {"S": "a"}}, "#s = :a", {"#s": "state"}),
            delete("P#1", "B", "attribute_exists(due_pk)"),
            check("P#2", "C", "attribute_exists(pk)"),
        ]
    )

    states = {(entry["pk"]["S"], entry["sk"]["S"]): entry["state"]["S"] for entry in dump(h)}
    assert states == {("P#1", "A"): "changed", ("P#2", "C"): "c", ("P#3", "NEW"): "new"}
    assert due_entries() == []


def test_a_refused_transaction_writes_nothing(h, table):
    """Two parts on one item: a ValidationException for the whole request, and no part written."""
    before = dump(h)

    with pytest.raises(ClientError) as raised:
        table.transact_write_items(
            TransactItems=[put(item("P#3", "NEW", state="new")), delete("P#1", "A"), delete("P#1", "A")]
        )

    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert dump(h) == before


def test_a_transaction_copies_only_the_items_it_touches(h, table, monkeypatch):
    """What makes it hold a load: no copy of the table, however large, at any transaction."""
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import Table

    for n in range(200):
        table.put_item(TableName=TABLE, Item=item(f"FILL#{n}", "X", state="x"))
    copied = []
    deepcopy = copy.deepcopy

    def counting_deepcopy(value, *args, **kwargs):
        copied.append(type(value))
        return deepcopy(value, *args, **kwargs)

    monkeypatch.setattr(copy, "deepcopy", counting_deepcopy)
    for condition in ("attribute_exists(pk)", "attribute_not_exists(pk)"):  # one passes, one fails
        with contextlib.suppress(ClientError):
            table.transact_write_items(
                TransactItems=[
                    update("P#1", "A", "SET #s = :s", {":s": {"S": "y"}}, names={"#s": "state"}),
                    check("P#2", "C", condition),
                ]
            )

    assert Table not in copied
    assert copied.count(Item) < 20  # the journal's and moto's own copies of the touched items, not 200


def random_transaction(rng):
    """Up to 5 parts on a few keys, with conditions that pass or fail, now and then two parts
    on one item (refused) or an update that is invalid for the item it finds (a number added
    to a string)."""
    keys = [(f"P#{p}", sk) for p in (1, 2) for sk in "ABC"]
    parts = []
    for pk, sk in rng.sample(keys, rng.randint(1, 5)) + ([rng.choice(keys)] if rng.random() < 0.05 else []):
        condition = rng.choice([None, None, "attribute_exists(pk)", "attribute_not_exists(pk)"])
        kind = rng.choice(["put", "update", "update", "delete", "check"])
        if kind == "put":
            due = {"due_pk": "DUE#0", "due_sk": sk} if rng.random() < 0.5 else {}
            parts.append(put(item(pk, sk, state=str(rng.randint(0, 9)), **due), condition))
        elif kind == "update":
            expression, values = rng.choice(
                [
                    ("SET #s = :v", {":v": {"S": str(rng.randint(0, 9))}}),
                    ("ADD n :one", {":one": {"N": "1"}}),
                    ("SET n = #s + :one", {":one": {"N": "1"}}),  # fails where state is a string
                    ("SET due_pk = :p, due_sk = :v", {":p": {"S": "DUE#1"}, ":v": {"S": sk}}),
                ]
            )
            names = {"#s": "state"} if "#s" in expression else None
            parts.append(update(pk, sk, expression, values, condition, names))
        elif kind == "delete":
            parts.append(delete(pk, sk, condition))
        else:
            parts.append(check(pk, sk, condition or "attribute_exists(pk)"))
        if rng.random() < 0.3:  # a failed condition then reports the item as it was
            next(iter(parts[-1].values()))["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    return parts


def test_the_journal_ends_where_motos_table_copies_end(h):
    """500 random transactions, each run by moto's own implementation on one region's table
    and by the journal on another's: the same items afterwards, and the same errors."""
    import random

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    ours, theirs = (dynamodb_backends[DEFAULT_ACCOUNT_ID][region] for region in ("us-east-1", "eu-west-1"))
    boto3.client("dynamodb", region_name="eu-west-1").create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )

    def run(transact, backend, parts):
        try:
            transact(backend, copy.deepcopy(parts))
            return None
        except Exception as error:
            return type(error).__name__, str(error), getattr(error, "description", None)

    def contents(backend):
        return sorted(str(entry.to_json()) for entry in backend.get_table(TABLE).all_items())

    rng = random.Random(11)
    outcomes = Counter()
    for _ in range(500):
        parts = random_transaction(rng)
        mine = run(moto_local.transact_write_items, ours, parts)
        assert mine == run(moto_local._moto_transact_write_items, theirs, parts), parts
        assert contents(ours) == contents(theirs), parts
        outcomes[mine[0] if mine else "applied"] += 1

    assert {"applied", "TransactionCanceledException", "MultipleTransactionsException"} <= set(outcomes)


QUERIES = {
    "a whole partition": {},
    "newest first": {"ScanIndexForward": False},
    "a range of sort keys": {"KeyConditionExpression": "pk = :pk AND sk BETWEEN :a AND :b"},
    "a prefix, filtered": {
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "FilterExpression": "attribute_exists(due_pk)",
    },
    "a missing partition": {"pk": "P#9"},
    "the deadline index": {"IndexName": "deadline-index", "KeyConditionExpression": "due_pk = :due"},
    "the deadline index, what is due": {
        "IndexName": "deadline-index",
        "KeyConditionExpression": "due_pk = :due AND due_sk < :upper",
    },
}


@pytest.mark.parametrize("query", QUERIES, ids=list(QUERIES))
def test_a_query_answers_as_moto_does(h, table, monkeypatch, query):
    """The same items, order and pages as moto's own query over the whole, sorted table."""
    from moto.dynamodb.models.table import Table

    for n in (5, 1, 9, 3, 7, 2, 8):  # written out of order, across partitions
        for pk in ("P#1", "P#2", "P#3"):
            due = {"due_pk": "DUE#0", "due_sk": str(n)} if n % 2 else {}
            table.put_item(TableName=TABLE, Item=item(pk, f"S#{n}", state=str(n), **due))
    params = {"KeyConditionExpression": "pk = :pk", "Limit": 3, **QUERIES[query]}
    values = {
        ":pk": {"S": params.pop("pk", "P#2")},
        ":a": {"S": "S#2"},
        ":b": {"S": "S#8"},
        ":prefix": {"S": "S#"},
        ":due": {"S": "DUE#0"},
        ":upper": {"S": "6"},
    }
    params["ExpressionAttributeValues"] = {
        name: value
        for name, value in values.items()
        if name in params["KeyConditionExpression"] + params.get("FilterExpression", "")
    }

    def pages():
        found, start = [], {}
        while True:
            page = table.query(TableName=TABLE, **params, **start)
            found.append((page["Items"], page.get("LastEvaluatedKey")))
            if "LastEvaluatedKey" not in page:
                return found
            start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}

    ours = pages()
    monkeypatch.setattr(Table, "query", moto_local._moto_query)
    assert ours == pages()


def test_item_operations_answer_what_motos_serializer_would(h, monkeypatch):
    """Every DynamoDB answer of a run through the product (2FA on, sign-ins with a code and a
    backup code, an organization under enforcement, the sweep) and of items holding every type
    of attribute, written both ways: the same status, headers and JSON."""
    import json

    from moto.dynamodb.responses import DynamoHandler

    compared, passed_on = Counter(), Counter()
    motos_serialized = moto_local._moto_serialized

    def passing_on(handler, action_result):
        passed_on[handler._get_action()] += 1
        return motos_serialized(handler, action_result)

    def both_ways(handler, action_result):
        ours = moto_local.serialized_as_plain_json(handler, action_result)
        motos = motos_serialized(handler, action_result)
        assert ours[:2] == motos[:2]
        assert json.loads(ours[2] or "{}") == json.loads(motos[2] or "{}"), handler._get_action()
        compared[handler._get_action()] += 1
        return ours

    monkeypatch.setattr(DynamoHandler, "serialized", both_ways)
    monkeypatch.setattr(moto_local, "_moto_serialized", passing_on)
    owner, secret, codes = h.user_with_two_factor("owner@example.com")
    h.sign_up("member@example.com")
    assert h.sign_in_with_code("owner@example.com", secret).status == 200
    challenge = h.sign_in("owner@example.com").body["challenge_token"]
    assert h.post("/v1/sessions/verify", {"backup_code": codes[0]}, token=challenge).status == 200
    org_id = h.post("/v1/orgs", {"name": "Acme", "plan": "business"}, token=owner).body["org_id"]
    assert h.join(org_id, owner, "member@example.com").status == 200
    assert h.put(f"/v1/orgs/{org_id}/security", {"require_two_factor": True}, token=owner).status == 200
    assert h.get(f"/v1/orgs/{org_id}/security", token=owner).status == 200
    h.clock.advance(8 * 86400)
    h.sweep()
    every_type = {
        **key("P#T", "ALL"),
        "n": {"N": "1.50"},
        "ss": {"SS": ["x", "y"]},
        "m": {"M": {"l": {"L": [{"BOOL": True}, {"NULL": True}, {"NS": ["1", "2"]}, {"BS": [b"\x00"]}]}}},
        "b": {"B": b"\x00\x01"},
    }
    table = stack.client("dynamodb")
    table.put_item(TableName=TABLE, Item=every_type)
    table.get_item(TableName=TABLE, Key=key("P#T", "ALL"))
    table.query(TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "P#T"}})
    table.update_item(TableName=TABLE, Key=key("P#T", "ALL"), UpdateExpression="REMOVE b", ReturnValues="ALL_NEW")
    table.delete_item(TableName=TABLE, Key=key("P#T", "ALL"), ReturnValues="ALL_OLD")
    h.table_items()

    assert set(moto_local.PLAIN_JSON_ACTIONS) <= set(compared)
    assert not set(moto_local.PLAIN_JSON_ACTIONS) & set(passed_on)  # all written by json.dumps


def test_install_is_idempotent_and_the_harness_uses_it(h):
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    locked = DynamoHandler.call_action
    moto_local.install()
    moto_local.install()

    assert DynamoDBBackend.transact_write_items is moto_local.transact_write_items
    assert Table.query is moto_local.query_one_partition
    assert DynamoHandler.call_action is locked  # wrapped once, by the harness


def test_install_refuses_a_moto_it_was_not_reviewed_against(monkeypatch):
    """A moto upgrade that changes a function the adapter replaces or relies on stops here,
    before anything is patched, with a message that says what to review."""
    assert moto_local.source_digests() == moto_local.REVIEWED_SOURCES  # the moto pinned today
    monkeypatch.setattr(moto_local, "_installed", False)
    monkeypatch.setitem(moto_local.REVIEWED_SOURCES, "Table.query", "0" * 64)

    with pytest.raises(RuntimeError, match=r"Table\.query"):
        moto_local.install()


def test_threaded_moto_server_takes_concurrent_conditional_writes_and_reads(monkeypatch):
    """8 threads race to bump one counter with conditional writes while others query and scan:
    nothing raises inside moto, and every write that succeeded is counted exactly once."""
    from moto.server import ThreadedMotoServer

    moto_local.install()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        for name, value in stack.LOCAL_ENVIRONMENT.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
        session = boto3.session.Session()
        monkeypatch.setattr(stack, "client", session.client)  # this server, not the harness's mock
        stack.provision()
        dynamodb = session.client("dynamodb")
        dynamodb.put_item(TableName=TABLE, Item={**key("COUNTER", "C"), "n": {"N": "0"}})
        won, failures, lock = [0], [], threading.Lock()

        def bump(worker):
            # No retries: a request that moto failed must surface, not be retried into success.
            client = session.client("dynamodb", config=Config(retries={"total_max_attempts": 1}))
            try:
                for step in range(15):
                    client.put_item(TableName=TABLE, Item=item(f"W#{worker}", f"{step:03d}", state="s"))
                    client.query(
                        TableName=TABLE,
                        KeyConditionExpression="pk = :pk",
                        ExpressionAttributeValues={":pk": {"S": f"W#{worker}"}},
                    )
                    client.scan(TableName=TABLE, Limit=50)
                    seen = client.get_item(TableName=TABLE, Key=key("COUNTER", "C"), ConsistentRead=True)
                    old = seen["Item"]["n"]["N"]
                    next_n = str(int(old) + 1)
                    try:
                        client.transact_write_items(
                            TransactItems=[
                                update(
                                    "COUNTER",
                                    "C",
                                    "SET n = :new",
                                    {":old": {"N": old}, ":new": {"N": next_n}},
                                    "n = :old",
                                ),
                                put(item(f"W#{worker}", f"WIN#{old}", state="won")),
                            ]
                        )
                        with lock:
                            won[0] += 1
                    except ClientError as error:
                        if error.response["Error"]["Code"] != "TransactionCanceledException":
                            raise
            except Exception as error:
                failures.append(error)

        threads = [threading.Thread(target=bump, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

        assert failures == []
        counter = dynamodb.get_item(TableName=TABLE, Key=key("COUNTER", "C"))["Item"]["n"]["N"]
        wins = sum(
            len(
                dynamodb.query(
                    TableName=TABLE,
                    KeyConditionExpression="pk = :pk AND begins_with(sk, :win)",
                    ExpressionAttributeValues={":pk": {"S": f"W#{n}"}, ":win": {"S": "WIN#"}},
                )["Items"]
            )
            for n in range(8)
        )
        assert int(counter) == won[0] == wins
    finally:
        server.stop()


def test_the_local_stack_answers_a_sustained_load_without_5xx():
    """`make run` itself (scripts.local_stack, on free ports), 400 requests 8 at a time."""
    from scripts.bench_local_stack import measure_local_stack

    figures = measure_local_stack(requests=400, concurrency=8)

    assert figures["local_stack_requests"] == 400
    assert figures["local_stack_5xx"] == 0
    assert figures["local_stack_no_answer"] == 0
    assert figures["unexpected_by_route"] == {}


def test_make_run_refuses_a_port_that_something_listens_on():
    """Its workers share their port with each other (SO_REUSEPORT); a second `make run` on the
    same port must stop instead of quietly taking half the requests."""
    from scripts.local_stack import port_in_use

    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert port_in_use(port)
    assert not port_in_use(port)


def test_make_run_sends_the_queues_emails_within_seconds():
    """The queue worker runs in `make run` too: the notice an owner's request hands to the queue
    reaches the terminal within seconds, as on AWS."""
    from chalicelib import totp
    from scripts.bench_local_stack import local_stack

    with local_stack() as running:

        def call(method, path, body=None, token=None):
            connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
            headers = {"content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {})}
            connection.request(method, path, json.dumps(body) if body is not None else None, headers)
            response = connection.getresponse()
            text = response.read()
            return response.status, json.loads(text) if text else None

        password = {"password": "correct horse battery staple"}
        for email in ("owner@example.com", "member@example.com"):
            assert call("POST", "/v1/users", {"email": email, **password})[0] == 201
        owner = call("POST", "/v1/sessions", {"email": "owner@example.com", **password})[1]["session_token"]
        secret = call("POST", "/v1/me/two-factor/enrollment", token=owner)[1]["secret"]
        code = totp.code_for_step(secret, totp.time_step(int(time.time())))
        assert call("POST", "/v1/me/two-factor/enrollment/confirm", {"code": code}, owner)[0] == 200
        org = call("POST", "/v1/orgs", {"name": "Acme", "plan": "business"}, owner)[1]["org_id"]
        assert (
            call("POST", f"/v1/orgs/{org}/invitations", {"email": "member@example.com", "role": "member"}, owner)[0]
            == 201
        )
        link = printed(running, rf"/#invitation={org}&token=([\w-]+)")
        member = call("POST", "/v1/sessions", {"email": "member@example.com", **password})[1]["session_token"]
        assert call("POST", f"/v1/me/invitations/{org}/accept", {"token": link.group(1)}, member)[0] == 200
        assert call("PUT", f"/v1/orgs/{org}/security", {"require_two_factor": True}, owner)[0] == 200

        printed(running, re.escape("--- email to member@example.com: Acme requires two-factor authentication"))
        assert f"http://localhost:{running.port}/#invitation={org}" in running.output()


def printed(running, pattern: str, seconds: float = 15) -> re.Match[str]:
    """Wait for the launcher to print what matches `pattern` (emails are printed every half second)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = re.search(pattern, running.output())
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"not printed within {seconds} s: {pattern}\n{running.output()[-2000:]}")


def test_an_index_query_sees_every_write_before_it(h, table):
    """The index's view of the table is kept between queries only while nothing is written."""

    def due(shard: str) -> list[str]:
        page = table.query(
            TableName=TABLE,
            IndexName="deadline-index",
            KeyConditionExpression="due_pk = :shard",
            ExpressionAttributeValues={":shard": {"S": shard}},
        )
        return [entry["sk"]["S"] for entry in page["Items"]]

    assert due("DUE#0") == ["B"]
    assert due("DUE#0") == ["B"]  # unchanged, from the kept view
    table.put_item(TableName=TABLE, Item=item("P#2", "D", state="d", due_pk="DUE#0", due_sk="000"))
    assert due("DUE#0") == ["D", "B"]
    table.update_item(TableName=TABLE, Key=key("P#1", "B"), UpdateExpression="REMOVE due_pk, due_sk")
    assert due("DUE#0") == ["D"]
    table.transact_write_items(TransactItems=[delete("P#2", "D")])
    assert due("DUE#0") == []
    table.batch_write_item(
        RequestItems={TABLE: [{"PutRequest": {"Item": item("P#3", "E", due_pk="DUE#0", due_sk="1")}}]}
    )
    assert due("DUE#0") == ["E"]
