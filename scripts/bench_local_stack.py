"""The local stack under a sustained load: `make run` answers N valid requests sent 8 at a time.

`measure_local_stack()` starts `python -m scripts.local_stack`, exactly what `make run` runs,
on free ports (a developer may be using 8000 and 5055), and drives it with virtual users.
Each user walks one journey and a new user starts where the last one ended, until N requests
have been sent. A journey is 30 requests:

- sign up, sign in with the password (a session), and later a second password sign-in that
  asks for the second factor, answered with a backup code: the 3 password hashes (scrypt at
  the production cost, about 35 ms of CPU each on purpose) are 10 % of the requests;
- 2FA enrollment: start (KMS data key, QR code) and confirm with the current TOTP code;
- 3 organizations created, the previous user invited to the first (an email), the first's
  member list read, its enforcement turned on (a fan-out on the queue), and its policy read
  3 times;
- 14 reads of `GET /v1/me/security`, the page a signed-in user sees most;
- sign-out.

Every request is valid, so every answer should be the documented 2xx. Figures:
`local_stack_5xx` (5xx answers), `local_stack_no_answer` (connection errors and timeouts),
`local_stack_unexpected` (any other status than the documented one), and the median and
95th percentile latency of the last 1,000 requests, by completion, in milliseconds.

    .venv/bin/python -m scripts.bench_local_stack [REQUESTS [CONCURRENCY]]
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"  # noqa: S105 - a demo password
TAIL = 1000  # the latency figures are of the last TAIL requests, once the table has grown
START_TIMEOUT = 60
REQUEST_TIMEOUT = 30


def measure_local_stack(requests: int = 5000, concurrency: int = 8) -> dict[str, Any]:
    """Start the local stack on free ports, send `requests` valid requests `concurrency` at a time."""
    with local_stack() as running:
        load = Load(running.port, requests)
        started = time.perf_counter()
        workers = [threading.Thread(target=load.run_worker, args=(n,)) for n in range(concurrency)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        seconds = time.perf_counter() - started
    latencies = [latency for _, latency in load.results[-TAIL:]]
    statuses = Counter(status for status, _ in load.results)
    return {
        "local_stack_requests": len(load.results),
        "local_stack_concurrency": concurrency,
        "local_stack_seconds": round(seconds, 1),
        "local_stack_5xx": sum(count for status, count in statuses.items() if status >= 500),
        "local_stack_no_answer": statuses[NO_ANSWER],
        "local_stack_unexpected": sum(load.unexpected.values()),
        "local_stack_median_ms": round(statistics.median(latencies) * 1000, 1),
        "local_stack_p95_ms": round(statistics.quantiles(latencies, n=20)[-1] * 1000, 1),
        "unexpected_by_route": dict(load.unexpected),
    }


# -- the stack ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class RunningStack:
    port: int
    log: Any  # the launcher's output: emails, the hourly runs, the queue worker's notes

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        text: str = self.log.read()
        return text


@contextmanager
def local_stack() -> Iterator[RunningStack]:
    """`make run` on free ports, its output in a temporary file."""
    port, moto_port = free_port(), free_port()
    env = {**os.environ, "PORT": str(port), "MOTO_PORT": str(moto_port), "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "scripts.local_stack"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so that nothing it started outlives it
        )
        try:
            _wait_until_serving(port, process, log)
            yield RunningStack(port, log)
        finally:
            process.terminate()  # as Ctrl-C: the launcher stops its workers and moto
            try:
                process.wait(timeout=20)
            finally:
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)  # anything left of the group
                process.wait()


def _wait_until_serving(port: int, process: subprocess.Popen[bytes], log: Any) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/v1/me/security")
            if connection.getresponse().status == 401:
                return
        except OSError:
            pass
        time.sleep(0.2)
    log.seek(0)
    raise RuntimeError(f"the local stack did not start on port {port}:\n{log.read()[-3000:]}")


# -- the load ---------------------------------------------------------------------------------

NO_ANSWER = 0  # the status recorded when no HTTP answer came back


class OutOfRequests(Exception):
    """Every request of the run has been sent."""


class JourneyBroken(Exception):
    """An answer was not the documented one; the user's later steps would be meaningless."""


@dataclass
class Load:
    port: int
    requests: int
    results: list[tuple[int, float]] = field(default_factory=list)  # (status, seconds), by completion
    unexpected: Counter[str] = field(default_factory=Counter)  # "METHOD route status" -> count
    _tickets: Iterator[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def run_worker(self, worker: int) -> None:
        user = VirtualUser(self)
        try:
            with suppress(OutOfRequests):
                for journey in itertools.count():
                    with suppress(JourneyBroken):  # the answer is recorded; the next user starts afresh
                        user.walk(f"load-{self._run}-{worker}-{journey}@example.com")
        finally:
            user.close()

    def take_ticket(self) -> None:
        with self._lock:
            if next(self._tickets) >= self.requests:
                raise OutOfRequests

    def record(self, route: str, status: int, seconds: float, expected: int) -> None:
        with self._lock:
            self.results.append((status, seconds))
            if status != expected:
                self.unexpected[f"{route} {status}"] += 1


class VirtualUser:
    """One client connection (kept alive, as a browser would) walking journeys one after another."""

    def __init__(self, load: Load) -> None:
        self._load = load
        self._connection = http.client.HTTPConnection("127.0.0.1", load.port, timeout=REQUEST_TIMEOUT)
        self._previous_email: str | None = None

    def close(self) -> None:
        self._connection.close()

    def walk(self, email: str) -> None:
        from chalicelib import totp

        credentials = {"email": email, "password": PASSWORD}
        self.call("POST", "/v1/users", 201, credentials)
        session = self.call("POST", "/v1/sessions", 200, credentials)["session_token"]
        self.read_security(session, 2)
        first_org = self.call("POST", "/v1/orgs", 201, {"name": "Load Test Ltd", "plan": "business"}, session)["org_id"]
        if self._previous_email is not None:
            invitation = {"email": self._previous_email, "role": "member"}
            route = "/v1/orgs/{id}/invitations"
            self.call("POST", f"/v1/orgs/{first_org}/invitations", 201, invitation, session, route=route)
        self.call("GET", f"/v1/orgs/{first_org}/members", 200, token=session, route="/v1/orgs/{id}/members")
        self.call("GET", f"/v1/orgs/{first_org}/security", 200, token=session, route="/v1/orgs/{id}/security")
        self.read_security(session, 2)
        secret = self.call("POST", "/v1/me/two-factor/enrollment", 201, token=session)["secret"]
        code = totp.code_for_step(secret, totp.time_step(int(time.time())))
        confirmed = self.call("POST", "/v1/me/two-factor/enrollment/confirm", 200, {"code": code}, session)
        self.read_security(session, 2)
        for name in ("Second Org", "Third Org"):
            self.call("POST", "/v1/orgs", 201, {"name": name, "plan": "team"}, session)
        policy = {"require_two_factor": True}
        self.call("PUT", f"/v1/orgs/{first_org}/security", 200, policy, session, route="/v1/orgs/{id}/security")
        self.read_security(session, 2)
        self.call("GET", f"/v1/orgs/{first_org}/security", 200, token=session, route="/v1/orgs/{id}/security")
        challenge = self.call("POST", "/v1/sessions", 200, credentials)["challenge_token"]
        backup_code = {"backup_code": confirmed["backup_codes"][0]}
        second = self.call("POST", "/v1/sessions/verify", 200, backup_code, challenge)["session_token"]
        self.read_security(second, 3)
        self.call("GET", f"/v1/orgs/{first_org}/security", 200, token=second, route="/v1/orgs/{id}/security")
        self.read_security(second, 3)
        self.call("DELETE", "/v1/sessions/current", 204, token=second)
        self._previous_email = email

    def read_security(self, token: str, times: int) -> None:
        for _ in range(times):
            self.call("GET", "/v1/me/security", 200, token=token)

    def call(
        self,
        method: str,
        path: str,
        expected: int,
        body: dict[str, Any] | None = None,
        token: str | None = None,
        route: str | None = None,
    ) -> Any:
        self._load.take_ticket()
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        payload = json.dumps(body) if body is not None else None
        started = time.perf_counter()
        try:
            self._connection.request(method, path, body=payload, headers=headers)
            response = self._connection.getresponse()
            text = response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            self._connection.close()  # the next request reconnects
            status, text = NO_ANSWER, b""
        self._load.record(f"{method} {route or path}", status, time.perf_counter() - started, expected)
        if status != expected:
            raise JourneyBroken
        return json.loads(text) if text else None


def main(argv: list[str]) -> int:
    requests = int(argv[0]) if argv else 5000
    concurrency = int(argv[1]) if len(argv) > 1 else 8
    figures = measure_local_stack(requests, concurrency)
    for name, value in figures.items():
        print(f"{name}: {value}")
    return 0 if figures["local_stack_5xx"] == figures["local_stack_no_answer"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
