from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.aws_calls import Record, Recorder
from devkit.harness import Harness

TESTS = Path(__file__).resolve().parent
# Judged on the AWS requests of the whole suite, so it runs last, and only when all of it runs.
WHOLE_SUITE_TEST = "test_least_privilege.py::test_each_function_may_do_exactly_what_it_did_in_the_tests"


@pytest.fixture
def h() -> Iterator[Harness]:
    """The app on moto, with a manual clock at 2026-11-27T09:00:00Z."""
    with Harness() as harness:
        yield harness


def pytest_configure(config: pytest.Config) -> None:
    """Record every AWS request the app's functions make while the tests run (devkit.aws_calls)."""
    recorder = Recorder()
    recorder.install()
    config.stash[RECORDER] = recorder


def pytest_unconfigure(config: pytest.Config) -> None:
    config.stash[RECORDER].uninstall()


RECORDER = pytest.StashKey[Recorder]()


@pytest.fixture(scope="session")
def aws_calls(request: pytest.FixtureRequest) -> Record:
    return request.config.stash[RECORDER].record


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    final = [item for item in items if item.nodeid.endswith(WHOLE_SUITE_TEST)]
    if not final:
        return
    items.remove(final[0])
    collected = {Path(str(item.path)) for item in items} | {Path(str(final[0].path))}
    filtered = any(
        config.getoption(option, default=None) for option in ("keyword", "markexpr", "deselect", "lf", "stepwise")
    )
    if collected == set(TESTS.rglob("test_*.py")) and not filtered:
        items.append(final[0])
    else:
        config.hook.pytest_deselected(items=final)
