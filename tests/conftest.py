from collections.abc import Iterator

import pytest

from devkit.harness import Harness


@pytest.fixture
def h() -> Iterator[Harness]:
    """The app on moto, with a manual clock at 2026-11-27T09:00:00Z."""
    with Harness() as harness:
        yield harness
