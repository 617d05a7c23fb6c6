"""What went wrong and what to do next: the error kinds, and one place mapping them to exit codes.

- `UserError` (stalled): the user must fix something (invalid manifest, failed check) -> exit 1.
- `TransientError`: worth retrying after `retry_after` seconds -> exit 1 from a one-shot command.
- `UsageError`: the command line is wrong -> exit 2.
- `FatalError`: the command cannot go on (broken repo, lock held) -> exit 1.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2


class OfferctlError(Exception):
    """Base of every error offerctl raises on purpose; its message is shown to the user."""

    exit_code = EXIT_FAIL


class UserError(OfferctlError):
    """Stalled: only a change by the user (a manifest, a setting) can make progress."""


class TransientError(OfferctlError):
    """Temporary: retry after a delay (remote down, throttled, lock busy)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FatalError(OfferctlError):
    """The command cannot continue (repository unusable, another daemon holds the lock)."""


class UsageError(OfferctlError):
    """The command line is wrong."""

    exit_code = EXIT_USAGE


def exit_code_for(error: BaseException) -> int:
    """The exit status for an error that ended a command."""
    if isinstance(error, OfferctlError):
        return error.exit_code
    return EXIT_FAIL
