"""Failpoints: named steps at which the process SIGKILLs itself, for crash tests.

Does nothing unless the environment variable OFFERCTL_FAILPOINT is set. When
it names a step (or is a comma list containing it), reaching that step kills
the process with SIGKILL: no exception handler, `finally` or atexit runs, as
when the machine loses power or the OOM killer strikes. Tests then restart
offerctl and check that nothing was lost or done twice (tests/test_failpoints.py).

The variable is read once, at import; an unset variable makes `failpoint` one
frozenset lookup in an empty set.
"""

from __future__ import annotations

import os
import signal

ENV = "OFFERCTL_FAILPOINT"

# Where each one fires (reconcile.py unless said otherwise):
AFTER_SUBMIT = "after-submit"  # a submit returned; no status names it yet
AFTER_GO_LIVE = "after-go-live"  # go-live returned; no status says GoingLive yet
AFTER_COMMIT_OBJECT = "after-commit-object"  # status commit written; branch not moved, not pushed
AFTER_REF_UPDATE = "after-ref-update"  # local mode: branch moved; checked-out files not synced
BEFORE_PUSH = "before-push"  # gitrepo.push: about to run `git push` of the status commit
AFTER_PUSH = "after-push"  # status commit landed; reconciled ref and state file not written
MID_STATE_WRITE = "mid-state-write"  # fsio.atomic_write of the state file: temp synced, not renamed

ALL = (
    AFTER_SUBMIT,
    AFTER_GO_LIVE,
    AFTER_COMMIT_OBJECT,
    AFTER_REF_UPDATE,
    BEFORE_PUSH,
    AFTER_PUSH,
    MID_STATE_WRITE,
)

_ARMED = frozenset(name.strip() for name in os.environ.get(ENV, "").split(",") if name.strip())


def failpoint(name: str) -> None:
    """SIGKILL this process if OFFERCTL_FAILPOINT names `name`; otherwise nothing."""
    if name in _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
