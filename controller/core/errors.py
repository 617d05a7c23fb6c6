"""What went wrong and what to do next: the error kinds, and one place mapping them to exit codes.

- `UserError` (stalled): the user must fix something (invalid manifest, failed check) -> exit 1.
- `TransientError`: worth retrying after `retry_after` seconds -> exit 1 from a one-shot command.
- `UsageError`: the command line is wrong -> exit 2.
- `FatalError`: the command cannot go on (broken repo, lock held) -> exit 1.

The machine itself failing (disk full, read-only filesystem, a corrupt store)
is never a usage error: exit 2 tells a supervisor (the shipped systemd unit's
`RestartPreventExitStatus=2`) that restarting cannot help, which is true of a
wrong command line and false of a disk that an operator is about to clean.
`from_os_error` turns such an `OSError` into the kind above with a one-line
message. A reader that went away (`offerctl status | head -1`) ends the
command quietly with `EXIT_BROKEN_PIPE`, the status a shell shows for a
process ended by SIGPIPE.
"""

from __future__ import annotations

import errno
import sys

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 128 + 13  # 128 + SIGPIPE, as a shell reports `git log | head -1`

# Errors a later attempt may not hit (space freed, quota raised, a busy resource released).
_TRANSIENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EAGAIN, errno.EBUSY, errno.EIO})


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
    if isinstance(error, BrokenPipeError):
        return EXIT_BROKEN_PIPE
    if isinstance(error, OfferctlError):
        return error.exit_code
    return EXIT_FAIL


def from_os_error(error: OSError, doing: str = "") -> OfferctlError:
    """An OSError from the machine (full disk, read-only filesystem, ...) as an error kind.

    The message is one line: what was being done, the path and the system's
    reason, e.g. `cannot write /srv/offers/.git/offerctl: read-only file system`.
    """
    reason = (error.strerror or str(error)).rstrip(".")
    reason = reason[:1].lower() + reason[1:]
    where = _filename(error.filename) if error.filename is not None else ""
    head = doing or ("cannot write" if error.errno in _WRITE_ERRNOS else "cannot access")
    text = f"{head} {where}: {reason}" if where else f"{head}: {reason}"
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        text += " (free some space and try again)"
    if error.errno in _TRANSIENT_ERRNOS:
        return TransientError(text)
    return FatalError(text)


def _filename(name: object) -> str:
    """`os.fsdecode` without importing os (the core imports no I/O module)."""
    if isinstance(name, bytes):
        return name.decode(sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())
    return str(name)


_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})
