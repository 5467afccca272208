"""The application in-process on moto, driven as a client would drive it.

Tests and notebooks use the same harness, so they control time and randomness
through the same seams (`ManualClock`, `SeededRandomness`) and see the same
emails and table contents.
"""

from __future__ import annotations

import json
import os
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


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


class Harness:
    """`with Harness() as h:` starts moto, creates the table, key and sender, and serves the app."""

    def __init__(self, start: str = START, seed: str | None = None, scrypt_n: int = 2**10) -> None:
        self.clock = ManualClock(start)
        self._seed = seed
        # Cheap scrypt keeps the suite fast; production uses AEGIS_SCRYPT_N=16384 or more.
        self._scrypt_n = scrypt_n

    def __enter__(self) -> Harness:
        from chalice.test import Client
        from moto import mock_aws

        moto_local.install()  # the same moto as `make run`: one lock, transactions that copy only their items
        stack.use_local_environment()
        os.environ["AEGIS_SCRYPT_N"] = str(self._scrypt_n)
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
        os.environ.pop("AEGIS_SCRYPT_N", None)

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
        return token, secret, codes

    def sign_in_with_code(self, email: str, secret: str) -> Reply:
        challenge = self.sign_in(email).body["challenge_token"]
        return self.post("/v1/sessions/verify", {"code": self.code(secret)}, token=challenge)

    def code(self, secret: str, offset: int = 0) -> str:
        """What an authenticator app shows at the harness's time plus `offset` seconds."""
        from chalicelib import totp

        return totp.code_for_step(secret, totp.time_step(self.clock.now() + offset))

    def sweep(self) -> dict[str, int]:
        event = self.client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
        )
        payload: dict[str, int] = self.client.lambda_.invoke("enforcement_sweep", event).payload
        return payload

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
