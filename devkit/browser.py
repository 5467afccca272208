"""The web pages in a real browser: the app under `chalice local` on a free port, Debian's
Chromium driven by Playwright, a QR reader, and `Authenticator` (devkit/authenticator.py) as the user's phone.

The server runs in a thread of the calling process, so it shares moto's mock and the
wiring (`ManualClock`) with the harness that the tests and `make screenshots` use.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

from .authenticator import Authenticator as Authenticator  # the tests import it from here
from .harness import PASSWORD, PROJECT_DIR

CHROMIUM = "/usr/bin/chromium"
# Playwright cannot download its own browser here: it drives Debian's. The flags keep
# Chromium off the network (this machine has none) and quiet as root in a container.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL_COMMAND = "apt-get update && apt-get install -y chromium zbar-tools"


def missing_tools() -> str | None:
    """Why the browser tests cannot run here, with the command that fixes it; None if they can."""
    tools = {"chromium": Path(CHROMIUM).exists(), "zbarimg": shutil.which("zbarimg") is not None}
    missing = [name for name, found in tools.items() if not found]
    if not missing:
        return None
    return f"{' and '.join(missing)} not installed; as root: {INSTALL_COMMAND}"


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PageServer:
    """`chalice local` serving the app on 127.0.0.1 at a free port, in a thread."""

    def __init__(self, app: Any) -> None:
        from chalice.config import Config
        from chalice.local import LocalChalice, LocalDevServer, create_local_server

        config = Config(
            chalice_stage="local",
            config_from_disk=json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text()),
        )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # create_local_server is what `chalice local` runs; it gives the app a current_request
        # per request thread, once per process (the app keeps it).
        make = LocalDevServer if isinstance(app, LocalChalice) else create_local_server
        self._server = make(app, config, "127.0.0.1", self.port)
        self._thread = threading.Thread(target=self._server.server.serve_forever, daemon=True)

    def __enter__(self) -> PageServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server.server_close()
        self._thread.join(timeout=10)


def read_qr(png: bytes) -> str:
    """What the QR code in a screenshot says, read by zbarimg (Debian's zbar-tools)."""
    with tempfile.NamedTemporaryFile(suffix=".png") as image:
        image.write(png)
        image.flush()
        result = subprocess.run(  # noqa: S603
            ["zbarimg", "--quiet", "--raw", image.name],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    return result.stdout.strip()


# -- driving the pages -------------------------------------------------------------------------


def sign_in(page: Any, email: str, password: str = PASSWORD) -> None:
    """The password step, from the first page."""
    page.goto("/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def enter_code(page: Any, code: str, button: str = "Verify") -> None:
    page.get_by_label("Authentication code").fill(code)
    page.get_by_role("button", name=button).click()
