"""`chalice local`, sending each HTTP response in one piece. `make run` serves the API with it.

chalice's local server writes a response's headers, then its body, each straight to the
socket. With a client that keeps its connection open (browsers, SDKs, load generators),
Nagle's algorithm holds the body back until the client acknowledges the headers, and
Linux clients delay that acknowledgement by up to 40 ms: most responses waited 40 ms
for nothing. A buffered writer with Nagle's algorithm off, the standard library's own
pairing for this, sends headers and body together; the handler flushes after every request.

    python -m devkit.chalice_local local --stage local --port 8000
"""

from __future__ import annotations

import sys


def main() -> int:
    from chalice.cli import main as chalice_main
    from chalice.local import ChaliceRequestHandler

    ChaliceRequestHandler.wbufsize = -1  # buffered: flushed once a response is complete
    ChaliceRequestHandler.disable_nagle_algorithm = True
    return int(chalice_main())


if __name__ == "__main__":
    sys.exit(main())
