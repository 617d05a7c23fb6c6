"""A revoked sign-off replayed by fast-forwarding the branch onto an old first-parent line.

A sign-off is judged from the commit that introduced signoff.yaml on the
watched branch's FIRST-PARENT history. Rita approves the offer's sign-off
(S, a merge she signed with her own ssh key); before the offer goes live the
publisher revokes it in a reviewed commit that deletes signoff.yaml. Then
someone prepares a merge M whose FIRST parent is S and whose second parent is
the branch tip, with S's tree (signoff.yaml back), and fast-forwards the branch
to it: allowed, since the tip is an ancestor of M. On M's first-parent line
signoff.yaml has not changed since S, so S, with Rita's genuine signature,
introduced it again, and the offer went live on a sign-off nobody approved again.

Fixed by `controller.signoff.replay` (docs/DESIGN.md §5, "A replaced history"):
the last reconciled commit is no longer on the tip's first-parent history, and
S, which that commit can reach, is not what introduced signoff.yaml there. The
distrust is remembered, so the next passes (full ones too, once M's line is the
last reconciled) do not trust S either.

Each pass is the real `offerctl reconcile` (in-process) on a real repository with
ssh-signed commits, against the simulated marketplace in its git directory.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import pytest
from git_helpers import GitRepos, git
from status_world import FAST, OffersWorld, condition, offer_files, offerctl
from test_signoff_trust import DANA, GIT_POLICY, RITA, SIGNERS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "signoff"))

from signoff_helpers import SshKey, make_key, who

OFFER = "contoso-replay"
SIGNOFF = f"offers/{OFFER}/signoff.yaml"
POLICY = GIT_POLICY  # Rita approves; Dana writes sign-offs and may not approve them
GONE_LIVE = {"Publishing", "GoingLive", "Live"}


class Branch:
    """The offers repository's main branch, reconciled in place, changed by named people."""

    def __init__(self, world: OffersWorld, keys: dict[str, SshKey]) -> None:
        self.world = world
        self.path = world.repo
        self.keys = keys

    def git(self, *args: str, person: tuple[str, str] = DANA, sign: bool = False) -> str:
        signing = []
        if sign:
            key = self.keys[person[1]].private
            signing = ["-c", "gpg.format=ssh", "-c", f"user.signingKey={key}"]
        return git(self.path, *signing, *args, env=who(person))

    def head(self, ref: str = "HEAD") -> str:
        return self.git("rev-parse", ref).strip()

    def reconcile(self, *extra: str) -> None:
        code, out, err = offerctl(
            "reconcile", "--repo", str(self.path), "--time-scale", FAST, *extra
        )
        assert code == 0, out + err

    def phase(self) -> str:
        return str(self.world.status(OFFER)["phase"])

    def approved_signoff(self, branch: str = "signoff/x") -> str:
        """Dana's signed sign-off of the generation awaiting it, merged with Rita's signature
        (on a side branch: the caller moves main to it). Returns the merge."""
        generation = self.world.status(OFFER)["observedGeneration"]
        self.git("checkout", "-q", "-b", branch, "main")
        (self.path / SIGNOFF).write_text(
            "apiVersion: offers.marketplace/v1\nkind: SignOff\n"
            f"offer: {OFFER}\ngeneration: {generation}\nnote: {branch}\n"
        )
        self.git("add", "--", SIGNOFF)
        self.git("commit", "-q", "-S", "-m", "Sign off", sign=True)
        self.git("checkout", "-q", "-b", f"review/{branch}", "main")
        approval = f"Approved-by: {RITA[0]} <{RITA[1]}>"
        self.git("merge", "-q", "--no-ff", "-S", "-m", f"Merge {branch}", "-m", approval,
                 branch, person=RITA, sign=True)  # fmt: skip
        merge = self.head()
        self.git("checkout", "-q", "main")
        return merge

    def fast_forward(self, commit: str) -> None:
        self.git("merge", "-q", "--ff-only", commit)

    def replay(self, approved: str) -> str:
        """M: first parent the approved merge, second parent the tip, the tip's tree with
        the approved signoff.yaml restored (on a side branch). Returns M."""
        tip = self.head()
        self.git("checkout", "-q", "-b", "replay", approved)
        self.git("merge", "-q", "--no-ff", "--no-commit", "-s", "ours", tip)
        self.git("checkout", tip, "--", ".")
        self.git("checkout", approved, "--", SIGNOFF)
        self.git("commit", "-q", "-m", "Merge main")
        replay = self.head()
        self.git("checkout", "-q", "main")
        return replay


def awaiting_signoff(
    gitrepos: GitRepos, tmp_path: Path, others: dict[str, bytes] | None = None
) -> Branch:
    """The offer (with `others` beside it) reconciled until it awaits its sign-off."""
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is not installed")
    keys = {p[1]: make_key(tmp_path / "keys", p[1].split("@")[0]) for p in (RITA, DANA)}
    signers = "".join(key.allowed_signers(email) for email, key in keys.items())
    files = {
        **offer_files(OFFER, "live"),
        **(others or {}),
        "publishing.yaml": POLICY,
        SIGNERS: signers,
    }
    main = Branch(OffersWorld(gitrepos, files), keys)
    deadline = time.monotonic() + 30  # a week of marketplace time is 0.6 s of wall time
    while time.monotonic() < deadline:
        main.reconcile()
        if main.phase() == "AwaitingSignOff":
            return main
        time.sleep(0.05)
    raise AssertionError(f"never awaited sign-off: {main.phase()}")


@pytest.fixture
def branch(gitrepos: GitRepos, tmp_path: Path) -> Branch:
    return awaiting_signoff(gitrepos, tmp_path)


def test_a_revoked_sign_off_replayed_by_a_fast_forward_does_not_go_live(branch: Branch) -> None:
    approved = branch.approved_signoff()
    # The approval lands and is revoked before any pass sees it (a reviewed commit by Rita).
    branch.fast_forward(approved)
    branch.git("rm", "-q", "--", SIGNOFF, person=RITA)
    branch.git("commit", "-q", "-m", "Revoke the sign-off: not ready", person=RITA)
    branch.reconcile()
    assert branch.phase() == "AwaitingSignOff"
    tip = branch.head()

    replay = branch.replay(approved)  # first parent S, second the tip: S's sign-off back
    assert branch.git("merge-base", "--is-ancestor", tip, replay) == ""
    branch.fast_forward(replay)

    branch.reconcile()

    status = branch.world.status(OFFER)
    assert status["phase"] == "AwaitingSignOff"
    assert status["signOff"]["valid"] is False
    assert status["signOff"]["reason"] == "SignOffReplayed"
    assert approved[:12] in status["signOff"]["message"]
    signed_off = condition(status, "SignedOff")
    assert signed_off["status"] == "False"
    assert signed_off["reason"] == "SignOffReplayed"
    assert "before the branch's history was replaced" in signed_off["message"]
    assert tip[:12] in signed_off["message"]

    # The replacement is now the last reconciled commit: S stays distrusted, full pass or not.
    branch.reconcile("--full")
    branch.reconcile()
    assert branch.phase() == "AwaitingSignOff"
    assert branch.world.status(OFFER)["signOff"]["reason"] == "SignOffReplayed"


def test_a_new_approved_sign_off_fast_forwarded_onto_the_branch_goes_live(branch: Branch) -> None:
    approved = branch.approved_signoff()
    branch.fast_forward(approved)  # the tip is the merge's first parent: history is kept

    branch.reconcile()

    status = branch.world.status(OFFER)
    assert status["signOff"]["valid"] is True, status["signOff"]["message"]
    assert status["phase"] in GONE_LIVE


def test_a_sign_off_approved_again_after_a_replay_goes_live(branch: Branch) -> None:
    approved = branch.approved_signoff("signoff/first")
    branch.fast_forward(approved)
    branch.git("rm", "-q", "--", SIGNOFF, person=RITA)
    branch.git("commit", "-q", "-m", "Revoke the sign-off", person=RITA)
    branch.reconcile()
    branch.fast_forward(branch.replay(approved))
    branch.reconcile()
    assert branch.world.status(OFFER)["signOff"]["reason"] == "SignOffReplayed"

    branch.fast_forward(branch.approved_signoff("signoff/again"))  # Rita approves anew
    branch.reconcile()

    status = branch.world.status(OFFER)
    assert status["signOff"]["valid"] is True, status["signOff"]["message"]
    assert status["phase"] in GONE_LIVE
