"""Replaying a revoked sign-off in two steps, or across a crash: attacks that do not work.

Both guard properties of docs/DESIGN.md §5, "A replaced history":

- Two fast-forwards: first a merge M1 whose first parent is an old commit X
  (after the approval S, before the revocation R) but whose tree is the tip's
  (no sign-off changed), so that M1, reconciled, becomes the commit later
  passes compare with; then a merge M2 onto X's line again, with S's
  signoff.yaml. It holds because M1's own first-parent history names M1, not S,
  as what last changed signoff.yaml there (M1 removed it), so S is still not
  what the last judged commit had.
- A crash between the status commit and the record (failpoint after-push): the
  replay was written down while the offer was judged, before anything landed,
  and the next pass compares with the same old commit anyway.
"""

from __future__ import annotations

import os
import subprocess
import sys

from test_attack_replay_only_passes import approve_then_revoke, assert_replayed, main, replay
from test_attack_signoff_replay import FAST, SIGNOFF, Branch

from controller import failpoint

__all__ = ["main"]  # the fixture


def test_a_history_replaced_first_without_a_sign_off_then_replayed_is_distrusted(
    main: Branch,
) -> None:
    approved = approve_then_revoke(main)
    main.reconcile()
    revoked = main.head()
    # M1: first parent S's line (S itself), second parent the tip, the tip's tree.
    main.git("checkout", "-q", "-b", "step1", approved)
    main.git("merge", "-q", "--no-ff", "--no-commit", "-s", "ours", revoked)
    main.git("checkout", revoked, "--", ".")
    main.git("rm", "-q", "--", SIGNOFF)
    main.git("commit", "-q", "-m", "Merge main")
    main.git("checkout", "-q", "main")
    main.fast_forward("step1")
    main.reconcile()
    assert main.world.status("contoso-replay")["signOff"]["reason"] != "SignOffReplayed"

    replay(main, approved)  # M2: first parent S again, second parent M1's line
    main.reconcile()

    assert_replayed(main, approved)


def test_a_crash_after_the_status_commit_of_the_replayed_pass_keeps_it_distrusted(
    main: Branch,
) -> None:
    approved = approve_then_revoke(main)
    main.reconcile()
    replay(main, approved)
    env = {**os.environ, failpoint.ENV: failpoint.AFTER_PUSH}
    argv = [sys.executable, "-m", "controller", "reconcile", "--repo", str(main.path)]
    crashed = subprocess.run(
        [*argv, "--time-scale", FAST],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert crashed.returncode != 0  # SIGKILLed after the status commit landed
    assert_replayed(main, approved)

    main.reconcile()
    main.reconcile("--full")

    assert_replayed(main, approved)
