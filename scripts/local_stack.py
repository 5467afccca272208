"""`make run`: the API on localhost against an embedded moto server. No AWS account needed.

Starts moto (DynamoDB, KMS, SES, SQS) on 127.0.0.1, made to hold a sustained load by
`devkit.moto_local`, creates the table, the KMS key, the verified sender and the work
queue, serves the API with `chalice local --stage local` (through `devkit.chalice_local`)
in WORKERS processes that share the port, prints every email the service sends, runs the
hourly function every hour as EventBridge would, and the queue worker on each message as
Lambda's SQS trigger would. Ctrl-C stops everything.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RETRY_AFTER_SECONDS = 60  # a failed message's next try, as the queue's visibility timeout would


def main() -> int:
    from moto.server import ThreadedMotoServer

    from devkit import chalice_local, moto_local, stack

    port = int(os.environ.get("PORT", "8000"))
    moto_port = int(os.environ.get("MOTO_PORT", "5055"))
    worker_count = int(os.environ.get("WORKERS", default_workers()))
    endpoint = f"http://127.0.0.1:{moto_port}"
    if port_in_use(port):
        print(f"Port {port} is in use: stop what serves it, or move the API with PORT=8080 make run.", file=sys.stderr)
        return 1

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    # Ctrl-C, and `kill` or a script's terminate(), stop everything the same way, even when
    # started in the background, where a shell leaves SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    stack.use_local_environment()
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    os.environ["AEGIS_WEB_URL"] = f"http://localhost:{port}"  # where invitation links point
    moto_local.install()  # one request at a time, and transactions that do not copy the table
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    server.start()
    stack.provision()

    workers = [
        subprocess.Popen(  # `chalice local`, each response sent in one piece
            chalice_local.command(port, share_port=worker_count > 1),
            cwd=ROOT,
            env=os.environ.copy(),
        )
        for _ in range(worker_count)
    ]
    stop = threading.Event()
    threading.Thread(target=_print_emails, args=(stop,), daemon=True).start()
    threading.Thread(target=_hourly_sweep, args=(stop,), daemon=True).start()
    threading.Thread(target=_queue_worker, args=(stop,), daemon=True).start()
    print(
        f"\naegis-2fa is serving http://localhost:{port}  ({worker_count} worker processes; moto on {endpoint})\n"
        "Emails the service sends are printed here. Ctrl-C stops everything.\n"
        "Operator commands against this stack, from another terminal:\n"
        f"  AWS_ENDPOINT_URL={endpoint} AEGIS_TABLE_NAME={os.environ['AEGIS_TABLE_NAME']} "
        "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1 \\\n"
        "    .venv/bin/python -m chalicelib.admin grant-support EMAIL\n",
        flush=True,
    )
    try:
        while not stop.wait(0.5):
            for worker in workers:
                if worker.poll() is not None:
                    return worker.returncode  # one worker failed: stop them all
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        stop.set()
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=10)
        server.stop()


def default_workers() -> int:
    """chalice local runs one Python process, which uses one core at a time; Lambda runs several
    instances at once. On Linux several processes share the port (SO_REUSEPORT) and the kernel
    spreads connections over them; elsewhere one process serves."""
    return min(4, os.cpu_count() or 1) if sys.platform == "linux" else 1


def port_in_use(port: int) -> bool:
    """Whether something listens on the port. The workers share it with each other only, so a
    second `make run` on the same port must not start and quietly take half the requests."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # only a listener counts, not TIME_WAIT
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def _print_emails(stop: threading.Event) -> None:
    from devkit import stack

    shown = 0
    while not stop.wait(0.5):
        emails = stack.sent_emails()
        for email in emails[shown:]:
            print(f"\n--- email to {email['to']}: {email['subject']}\n{email['body']}\n---", flush=True)
        shown = len(emails)


def _hourly_sweep(stop: threading.Event) -> None:
    """EventBridge runs the sweep hourly on AWS; locally this thread does."""
    from chalicelib import sweep, wiring

    while not stop.wait(3600):
        print(f"enforcement sweep: {sweep.run(wiring.dependencies())}", flush=True)


def _queue_worker(stop: threading.Event) -> None:
    """Lambda's SQS trigger on AWS; locally this thread: one message at a time, deleted when the
    worker is done with it, left for a later try when it fails (as SQS's visibility timeout)."""
    import json

    from chalicelib import wiring, worker
    from devkit import stack

    sqs = stack.client("sqs")
    url = os.environ["AEGIS_QUEUE_URL"]
    while not stop.is_set():
        try:
            received = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=60
            )
        except Exception as error:  # moto stopping under us at Ctrl-C
            if not stop.is_set():
                print(f"queue worker: cannot read the queue: {type(error).__name__}", flush=True)
            return
        for message in received.get("Messages", []):
            try:
                worker.handle(wiring.dependencies(), json.loads(message["Body"]))
            except Exception as error:  # the message stays; SQS would deliver it again later
                print(
                    f"queue worker: a message failed ({type(error).__name__}); it is tried again in a minute",
                    flush=True,
                )
                continue
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


if __name__ == "__main__":
    sys.exit(main())
