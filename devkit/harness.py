"""The application in-process on moto, driven as a client would drive it.

Tests and notebooks use the same harness, so they control time and randomness
through the same seams (`ManualClock`, `SeededRandomness`) and see the same
emails and table contents.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib import wiring
from chalicelib.clock import ManualClock
from chalicelib.randomness import SeededRandomness

from . import moto_local, stack

PROJECT_DIR = Path(__file__).resolve().parent.parent
START = "2026-11-27T09:00:00Z"
PASSWORD = "correct horse battery staple"  # noqa: S105 - a demo password
# Cheap Argon2id keeps the suite fast; production uses the defaults of chalicelib/config.py.
CHEAP_PASSWORD_HASHING = {"AEGIS_ARGON2_MEMORY_KIB": "64", "AEGIS_ARGON2_TIME_COST": "1"}


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


class Harness:
    """`with Harness() as h:` starts moto, creates the table, key and sender, and serves the app."""

    def __init__(self, start: str = START, seed: str | None = None) -> None:
        self.clock = ManualClock(start)
        self.failed_messages: list[str] = []
        self.secrets: dict[str, str] = {}  # email -> TOTP secret, of users made by user_with_two_factor
        self._seed = seed

    def __enter__(self) -> Harness:
        from chalice.test import Client
        from moto import mock_aws

        moto_local.install()  # the same moto as `make run`: one lock, transactions that copy only their items
        stack.use_local_environment()
        os.environ.update(CHEAP_PASSWORD_HASHING)
        self._mock = mock_aws()
        self._mock.start()
        stack.provision()
        wiring.configure(clock=self.clock, randomness=SeededRandomness(self._seed) if self._seed else None)
        from app import app

        self.app = app
        self.client = Client(app, stage_name="local", project_dir=str(PROJECT_DIR))
        self.client.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.__exit__(None, None, None)
        wiring.reset()
        self._mock.stop()
        for name in CHEAP_PASSWORD_HASHING:
            os.environ.pop(name, None)

    # -- HTTP ------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        raw: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = {"content-type": "application/json"}
        if token:
            sent["authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        payload = raw if raw is not None else (json.dumps(body) if body is not None else b"")
        response = getattr(self.client.http, method.lower())(path, headers=sent, body=payload)
        text = response.body.decode() if isinstance(response.body, bytes) else response.body
        return Reply(response.status_code, json.loads(text) if text else None, dict(response.headers))

    def post(self, path: str, body: Any = None, token: str | None = None, **kwargs: Any) -> Reply:
        return self.request("POST", path, body, token, **kwargs)

    def put(self, path: str, body: Any = None, token: str | None = None, **kwargs: Any) -> Reply:
        return self.request("PUT", path, body, token, **kwargs)

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> Reply:
        return self.request("GET", path, None, token, **kwargs)

    def delete(self, path: str, token: str | None = None, **kwargs: Any) -> Reply:
        return self.request("DELETE", path, None, token, **kwargs)

    # -- flows -----------------------------------------------------------------------------

    def sign_up(self, email: str, password: str = PASSWORD) -> str:
        reply = self.post("/v1/users", {"email": email, "password": password})
        assert reply.status == 201, reply
        return str(reply.body["user_id"])

    def sign_in(self, email: str, password: str = PASSWORD) -> Reply:
        return self.post("/v1/sessions", {"email": email, "password": password})

    def session(self, email: str, password: str = PASSWORD) -> str:
        """A session token for a user without 2FA."""
        reply = self.sign_in(email, password)
        assert reply.body["status"] == "signed_in", reply
        return str(reply.body["session_token"])

    def invite(self, org_id: str, manager_token: str, email: str, role: str = "member", sso: bool = False) -> Reply:
        return self.post(
            f"/v1/orgs/{org_id}/invitations", {"email": email, "role": role, "sso": sso}, token=manager_token
        )

    def invitation_token(self, email: str, org_id: str) -> str:
        """The token in the latest invitation email to `email` for the organization."""
        for message in reversed(self.emails(email)):
            found = re.search(rf"#invitation={org_id}&token=([A-Za-z0-9_-]+)", message["body"])
            if found:
                return found.group(1)
        raise AssertionError(f"no invitation to {org_id} was emailed to {email}")

    def join(
        self,
        org_id: str,
        manager_token: str,
        email: str,
        role: str = "member",
        sso: bool = False,
        session: str | None = None,
    ) -> Reply:
        """Make the user with `email` a member, as people do: an owner or admin invites them, and
        they accept with the token from the email, signed in with `session` (by default a new
        session: with their code if `user_with_two_factor` made them). The acceptance's reply."""
        invited = self.invite(org_id, manager_token, email, role, sso)
        assert invited.status == 201, invited
        if session is None:
            session = self.session_with_code(email) if email in self.secrets else self.session(email)
        token = self.invitation_token(email, org_id)
        return self.post(f"/v1/me/invitations/{org_id}/accept", {"token": token}, token=session)

    def enroll(self, token: str) -> tuple[str, list[str]]:
        """Turn 2FA on: (secret, backup codes). Moves the clock one step so the
        confirming code is not the one a later sign-in uses."""
        secret = self.post("/v1/me/two-factor/enrollment", token=token).body["secret"]
        reply = self.post("/v1/me/two-factor/enrollment/confirm", {"code": self.code(secret)}, token=token)
        assert reply.status == 200, reply
        self.clock.advance(30)
        return secret, list(reply.body["backup_codes"])

    def user_with_two_factor(self, email: str) -> tuple[str, str, list[str]]:
        """(session token, secret, backup codes) for a new user with 2FA on."""
        self.sign_up(email)
        token = self.session(email)
        secret, codes = self.enroll(token)
        self.secrets[email] = secret
        return token, secret, codes

    def session_with_code(self, email: str) -> str:
        """A new session for a user made by `user_with_two_factor` (sessions last 12 hours)."""
        reply = self.sign_in_with_code(email, self.secrets[email])
        assert reply.status == 200, reply
        return str(reply.body["session_token"])

    def sign_in_with_code(self, email: str, secret: str) -> Reply:
        challenge = self.sign_in(email).body["challenge_token"]
        return self.post("/v1/sessions/verify", {"code": self.code(secret)}, token=challenge)

    def code(self, secret: str, offset: int = 0) -> str:
        """What an authenticator app shows at the harness's time plus `offset` seconds."""
        from chalicelib import totp

        return totp.code_for_step(secret, totp.time_step(self.clock.now() + offset))

    def hourly(self) -> dict[str, int]:
        """Invoke the hourly function once, as its EventBridge rule would. It only enqueues."""
        event = self.client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
        )
        payload: dict[str, int] = self.client.lambda_.invoke("enforcement_sweep", event).payload
        return payload

    def drain(self) -> dict[str, int]:
        """Run the queue worker until the queue is empty, as Lambda's SQS trigger would: one
        message per invocation, deleted when it succeeds. A message whose emails failed stays
        in flight (`failed_messages`) until `redeliver()`, as SQS's visibility timeout would
        keep it; any other exception is a bug and is raised."""
        from chalicelib.worker import NoticesNotSent

        sqs = stack.client("sqs")
        url = os.environ["AEGIS_QUEUE_URL"]
        done: Counter[str] = Counter()
        while True:
            received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=3600)
            if not received.get("Messages"):
                return dict(done)
            for message in received["Messages"]:
                event = self.client.events.generate_sqs_event(message_bodies=[message["Body"]])
                try:
                    done.update(self.client.lambda_.invoke("queue_worker", event).payload)
                except NoticesNotSent:
                    self.failed_messages.append(message["ReceiptHandle"])
                    continue
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def take_messages(self) -> list[dict[str, Any]]:
        """Take every waiting message off the queue, to deliver by hand (`deliver`)."""
        sqs = stack.client("sqs")
        url = os.environ["AEGIS_QUEUE_URL"]
        taken: list[dict[str, Any]] = []
        while True:
            received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=3600)
            if not received.get("Messages"):
                return taken
            for message in received["Messages"]:
                taken.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def deliver(self, message: dict[str, Any]) -> dict[str, int]:
        """Invoke the queue worker with one message, as Lambda's SQS trigger would."""
        event = self.client.events.generate_sqs_event(message_bodies=[json.dumps(message)])
        payload: dict[str, int] = self.client.lambda_.invoke("queue_worker", event).payload
        return payload

    def redeliver(self) -> None:
        """Make failed messages visible again, as SQS does when their visibility timeout ends."""
        sqs = stack.client("sqs")
        for handle in self.failed_messages:
            sqs.change_message_visibility(
                QueueUrl=os.environ["AEGIS_QUEUE_URL"], ReceiptHandle=handle, VisibilityTimeout=0
            )
        self.failed_messages.clear()

    def waiting(self) -> int:
        """How many messages wait in the queue (in flight ones not counted)."""
        attributes = stack.client("sqs").get_queue_attributes(
            QueueUrl=os.environ["AEGIS_QUEUE_URL"], AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])

    def sweep(self) -> dict[str, int]:
        """The hourly function, then the queue worker until the queue is empty: everything an
        hourly run causes on AWS within seconds."""
        return {**self.hourly(), **self.drain()}

    # -- what happened ---------------------------------------------------------------------

    def emails(self, to: str | None = None) -> list[dict[str, str]]:
        return [e for e in stack.sent_emails() if to is None or e["to"] == to]

    def table_items(self) -> list[dict[str, Any]]:
        """Every item in the table, as a database dump would show it."""
        dynamodb = stack.client("dynamodb")
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": os.environ["AEGIS_TABLE_NAME"]}
        while True:
            page = dynamodb.scan(**kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
