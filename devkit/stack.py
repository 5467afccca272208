"""Create the table, KMS key, SES sender and configuration set, and the work queue the app expects,
in moto or any endpoint.

Mirrors `infra/template.json`: keys `pk`/`sk`, TTL on `ttl`, the sparse `deadline-index`,
and the queue the worker reads (its URL goes to AEGIS_QUEUE_URL).
"""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3

REGION = "us-east-1"
LOCAL_ENVIRONMENT = {
    "AEGIS_TABLE_NAME": "aegis-2fa-local",
    "AEGIS_KMS_KEY_ID": "alias/aegis-2fa-local",
    "AEGIS_SENDER_EMAIL": "no-reply@aegisrunner.test",
    "AEGIS_SES_CONFIGURATION_SET": "aegis-2fa-local",
    "AEGIS_SES_SENDS_PER_SECOND": "0",  # moto's SES has no sending rate: no pacing locally
    "AEGIS_WEB_URL": "http://localhost:8000",  # invitation links; `make run` sets its own port
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # moto accepts any credentials
}


@functools.cache
def client(service: str) -> Any:
    """Clients of one session, made once per process. moto replaces boto3's default session
    at every start, and each new session reloads botocore's data files: slow for every test."""
    return _session().client(service)


@functools.cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


def use_local_environment() -> None:
    for name, value in LOCAL_ENVIRONMENT.items():
        os.environ[name] = value
    os.environ.pop("AWS_PROFILE", None)


def provision() -> dict[str, Any]:
    """Create what the app needs, named by the AEGIS_* environment variables."""
    table_name = os.environ["AEGIS_TABLE_NAME"]
    dynamodb = client("dynamodb")
    dynamodb.create_table(
        TableName=table_name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "due_pk", "due_sk")
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "deadline-index",
                "KeySchema": [
                    {"AttributeName": "due_pk", "KeyType": "HASH"},
                    {"AttributeName": "due_sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    dynamodb.update_time_to_live(
        TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
    )
    kms = client("kms")
    key_id = kms.create_key(Description="aegis-2fa TOTP secrets")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=os.environ["AEGIS_KMS_KEY_ID"], TargetKeyId=key_id)
    client("ses").verify_email_identity(EmailAddress=os.environ["AEGIS_SENDER_EMAIL"])
    client("ses").create_configuration_set(ConfigurationSet={"Name": os.environ["AEGIS_SES_CONFIGURATION_SET"]})
    queue_url = client("sqs").create_queue(QueueName=f"{table_name}-work")["QueueUrl"]
    os.environ["AEGIS_QUEUE_URL"] = queue_url
    return {"table": table_name, "key_id": key_id, "queue_url": queue_url}


def sent_emails() -> list[dict[str, str]]:
    """The emails moto's SES accepted in this process, oldest first."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    backend = ses_backends[DEFAULT_ACCOUNT_ID][REGION]
    return [
        {"to": ", ".join(message.destinations["ToAddresses"]), "subject": message.subject, "body": message.body}
        for message in backend.sent_messages
    ]
