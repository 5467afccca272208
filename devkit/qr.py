"""Reading a QR code as a camera would: zbarimg (Debian's zbar-tools) decodes the picture, so
nothing of the service's own QR code is trusted to read it back."""

from __future__ import annotations

import subprocess
import tempfile


def decode(picture: bytes, suffix: str) -> str:
    """The text of the QR code in `picture`, an image of the type `suffix` names (".png", ".svg":
    zbarimg opens an SVG through ImageMagick's SVG reader)."""
    with tempfile.NamedTemporaryFile(suffix=suffix) as image:
        image.write(picture)
        image.flush()
        result = subprocess.run(  # noqa: S603
            ["zbarimg", "--quiet", "--raw", image.name],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    return result.stdout.strip()
