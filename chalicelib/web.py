"""The product's web pages: static files served by the API function itself.

They live in `chalicelib/static/` because Chalice puts everything under `chalicelib/`
into the Lambda package (and nothing else but `app.py` and `vendor/`). They are read
on first use, not at import, and looked up by exact name: a request never names a file.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
INDEX = "index.html"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}

# The pages load only their own files, call only this API, show the QR code from a blob:
# URL, and cannot be framed. No inline script or style is allowed anywhere.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Strict-Transport-Security": "max-age=31536000",
}
API_CACHE_CONTROL = "no-store"
# Pages may be kept but are checked again on every load, so a deploy shows at once.
PAGE_CACHE_CONTROL = "no-cache"


@dataclass(frozen=True)
class Asset:
    body: str
    content_type: str


def asset(name: str) -> Asset | None:
    """The static file with this path relative to `static/`, or None."""
    return _assets().get(name)


@functools.cache
def _assets() -> dict[str, Asset]:
    return {
        path.relative_to(STATIC_DIR).as_posix(): Asset(path.read_text(encoding="utf-8"), CONTENT_TYPES[path.suffix])
        for path in sorted(STATIC_DIR.rglob("*"))
        if path.suffix in CONTENT_TYPES
    }
