"""`chalice local` for `make run`: each response sent in one piece, and a port that several
processes can share.

chalice's local server writes a response's headers, then its body, each straight to the
socket. With a client that keeps its connection open (browsers, SDKs, load generators),
Nagle's algorithm holds the body back until the client acknowledges the headers, and
Linux clients delay that acknowledgement by up to 40 ms: most responses waited 40 ms
for nothing. A buffered writer with Nagle's algorithm off, the standard library's own
pairing for this, sends headers and body together; the handler flushes after every request.

With `--share-port` the server binds with SO_REUSEPORT, so that several processes serve
one port and the kernel spreads the connections over them (scripts/local_stack.py).

    python -m devkit.chalice_local [--share-port] local --stage local --port 8000
"""

from __future__ import annotations

import sys

SHARE_PORT = "--share-port"


def command(port: int, share_port: bool = False) -> list[str]:
    """The command line that serves the local stage on 127.0.0.1:`port` (run it in the project)."""
    return [
        sys.executable,
        "-m",
        "devkit.chalice_local",
        *([SHARE_PORT] if share_port else []),
        *("local", "--stage", "local", "--host", "127.0.0.1", "--port", str(port), "--no-autoreload"),
    ]


def main(argv: list[str]) -> int:
    from chalice.cli import main as chalice_main
    from chalice.local import ChaliceRequestHandler, ThreadedHTTPServer

    ChaliceRequestHandler.wbufsize = -1  # buffered: flushed once a response is complete
    ChaliceRequestHandler.disable_nagle_algorithm = True
    if SHARE_PORT in argv:
        ThreadedHTTPServer.allow_reuse_port = True
    sys.argv = [sys.argv[0], *(arg for arg in argv if arg != SHARE_PORT)]  # the rest is chalice's
    return int(chalice_main())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
