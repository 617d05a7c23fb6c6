"""Explicit time budgets for the slow tests: what `@pytest.mark.slow(budget=S)` means.

`make test` (README's test command) leaves the slow tests out so it stays
under 3 minutes on 2 cores; `make test-slow`, which CI runs right after it,
runs only them: the crash, chaos, state-machine, daemon, emulator and browser
tests. Each has a budget in seconds, written beside it (module `pytestmark`
or the test's own marker; DEFAULT_BUDGET when none is given), so what the
slow set costs is stated in the code rather than discovered in CI.

A budget is not a timed assertion: a test that runs over it still passes,
and the run ends with a list of the tests that did (a loaded machine makes
tests slower; a test that keeps appearing there needs a smaller world or a
larger budget). Only a test that runs HANG_FACTOR times over its budget is
stopped, by pytest-timeout, because by then it is hung, not slow.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

DEFAULT_BUDGET = 30.0  # seconds, for a slow test that names none
HANG_FACTOR = 6  # a test this many budgets long is hung: pytest-timeout stops it
_KEY = "budget"


def budget_of(item: pytest.Item) -> float | None:
    """The budget in seconds of a slow test; None for a test that is not marked slow."""
    marker = item.get_closest_marker("slow")
    if marker is None:
        return None
    return float(marker.kwargs.get("budget", DEFAULT_BUDGET))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        budget = budget_of(item)
        if budget is not None and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(budget * HANG_FACTOR))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, None, None]:
    outcome = yield
    budget = budget_of(item)
    if budget is not None:
        report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
        report.user_properties.append((_KEY, budget))  # travels back from xdist workers


_overruns: list[tuple[str, float, float]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call":
        return
    for key, value in report.user_properties:
        if key == _KEY and report.duration > float(value):
            _overruns.append((report.nodeid, report.duration, float(value)))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _overruns:
        return
    terminalreporter.section("slow tests over their budget (they passed; see tests/budgets.py)")
    for nodeid, took, budget in sorted(_overruns, key=lambda o: o[1] / o[2], reverse=True):
        terminalreporter.write_line(f"{took:7.1f}s of {budget:5.0f}s  {nodeid}")
