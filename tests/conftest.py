"""Fixtures every test folder shares; the helpers behind them live in git_helpers.py.

Tests import helpers from `git_helpers`, never from `conftest`: two conftest
modules in one run share the name, and which one an import finds would
depend on collection order. The slow tests' budgets are hooks from budgets.py.
"""

from azurite_helpers import azurite
from budgets import (
    pytest_collection_modifyitems,
    pytest_runtest_logreport,
    pytest_runtest_makereport,
    pytest_terminal_summary,
)
from git_helpers import _pinned_git_env, gitrepos, make_repo

__all__ = [
    "_pinned_git_env",
    "azurite",
    "gitrepos",
    "make_repo",
    "pytest_collection_modifyitems",
    "pytest_runtest_logreport",
    "pytest_runtest_makereport",
    "pytest_terminal_summary",
]
