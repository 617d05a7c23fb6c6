"""A sign-off replay between passes that record no reconciled commit.

The replay defence (docs/DESIGN.md §5, "A replaced history") compares the judged
tip's first-parent history with the last commit the controller reconciled.
`offerctl reconcile OFFER` (and each batch of the daemon, `run_pass(only=...)`)
judges sign-offs and acts on them but records no reconciled commit: the daemon
records one only when a whole resync is done, possibly hours later. So, with
the reconciled commit L from before the approval S:

1. S (Rita's signed approval) lands; then a reviewed commit R revokes it; an
   `offerctl reconcile OFFER` pass reads R: the offer awaits sign-off again;
2. a merge M whose first parent is S and whose second parent is the tip, with
   S's signoff.yaml, is fast-forwarded onto the branch;
3. the next pass compares M with L. L is still on M's first-parent history (S
   came after L), so nothing looked replaced, S introduced signoff.yaml, and
   the offer went live on a sign-off the controller had seen revoked.

Fixed: every pass that judges sign-offs also records the commit it judged
(`Reconciler`'s judged ref) when that commit's first-parent history keeps the
one judged before, and sign-offs are compared with it; a whole pass that finds
the history replaced evaluates every offer before moving it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from git_helpers import GitRepos
from status_world import FAST, offer_files, offerctl
from test_attack_signoff_replay import OFFER, RITA, SIGNOFF, Branch, awaiting_signoff

OTHER = "contoso-other"  # a second offer, so `offerctl reconcile OFFER` is a subset


@pytest.fixture
def main(gitrepos: GitRepos, tmp_path: Path) -> Branch:
    return awaiting_signoff(gitrepos, tmp_path, offer_files(OTHER, "preview"))


def approve_then_revoke(branch: Branch) -> str:
    """S lands and R revokes it; returns S."""
    approved = branch.approved_signoff()
    branch.fast_forward(approved)
    branch.git("rm", "-q", "--", SIGNOFF, person=RITA)
    branch.git("commit", "-q", "-m", "Revoke the sign-off: not ready", person=RITA)
    return approved


def replay(branch: Branch, approved: str) -> str:
    """Fast-forward main to a merge M: first parent `approved`, second the tip, its sign-off."""
    merge = branch.replay(approved)
    branch.fast_forward(merge)
    return merge


def assert_replayed(branch: Branch, approved: str) -> None:
    status = branch.world.status(OFFER)
    assert status["phase"] == "AwaitingSignOff", status["signOff"]
    assert status["signOff"]["valid"] is False
    assert status["signOff"]["reason"] == "SignOffReplayed"
    assert approved[:12] in status["signOff"]["message"]


def test_a_replay_after_a_one_offer_pass_saw_the_revocation_is_distrusted(main: Branch) -> None:
    approved = approve_then_revoke(main)
    main.reconcile(OFFER)  # reads R: no reconciled commit recorded
    assert main.phase() == "AwaitingSignOff"
    assert main.world.status(OFFER)["signOff"]["reason"] != "SignOffReplayed"

    replay(main, approved)
    main.reconcile(OFFER)
    assert_replayed(main, approved)

    main.reconcile()  # a whole pass, then one over its own commit: still distrusted
    main.reconcile()
    assert_replayed(main, approved)


def test_a_replay_read_first_by_a_whole_pass_after_one_offer_passes_is_distrusted(
    main: Branch,
) -> None:
    approved = approve_then_revoke(main)
    main.reconcile(OFFER)
    replay(main, approved)

    main.reconcile()  # the whole pass's scope is every offer changed since L

    assert_replayed(main, approved)
    main.reconcile("--full")
    assert_replayed(main, approved)


def test_a_sign_off_approved_after_one_offer_passes_goes_live(main: Branch) -> None:
    main.reconcile(OFFER)
    main.fast_forward(main.approved_signoff())  # the tip is the merge's first parent
    main.reconcile(OFFER)

    status = main.world.status(OFFER)
    assert status["signOff"]["valid"] is True, status["signOff"]["message"]


def test_plan_after_a_one_offer_pass_does_not_call_the_replayed_sign_off_valid(
    main: Branch,
) -> None:
    approved = approve_then_revoke(main)
    main.reconcile(OFFER)
    replay(main, approved)

    code, out, err = offerctl("plan", "--repo", str(main.path), "--time-scale", FAST)

    assert code == 0, out + err
    assert "SignOffReplayed" in out or "history was replaced" in out, out
