"""The web pages in a real browser: the app under `chalice local` on a free port, Debian's
Chromium driven by Playwright, a QR reader, and `Authenticator` (devkit/authenticator.py) as the user's phone.

The server runs in a thread of the calling process, so it shares moto's mock and the
wiring (`ManualClock`) with the harness that the tests and `make screenshots` use.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import socket
import threading
from pathlib import Path
from typing import Any

from . import qr
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
    """What the QR code in a screenshot says, read by zbarimg."""
    return qr.decode(png, ".png")


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


def session_token(page: Any) -> str | None:
    """The session token the pages keep for this tab."""
    token: str | None = page.evaluate("sessionStorage.getItem('aegis.session')")
    return token


def invitation_link(harness: Any, email: str) -> str:
    """The link in the latest invitation email to `email`, as sent."""
    for message in reversed(harness.emails(email)):
        found = re.search(r"\S+#invitation=\S+", message["body"])
        if found:
            return found.group(0)
    raise AssertionError(f"no invitation was emailed to {email}")


def assert_accessible(page: Any, what: str) -> None:
    """axe-core on the page as it is now: no violation of serious or critical impact."""
    results = _axe().run(page).response
    assert results["testEngine"]["name"] == "axe-core" and results["passes"], what
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[node['target'] for node in v['nodes']]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not serious, f"{what}:\n" + "\n".join(serious)


@functools.cache
def _axe() -> Any:
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


def organization(harness: Any, owner: str, name: str, plan: str = "business") -> tuple[str, str, str]:
    """(owner's session, owner's 2FA secret, org id) for a new organization whose owner, a new
    user, has 2FA on."""
    token, secret, _ = harness.user_with_two_factor(owner)
    reply = harness.post("/v1/orgs", {"name": name, "plan": plan}, token=token)
    assert reply.status == 201, reply
    return token, secret, reply.body["org_id"]
