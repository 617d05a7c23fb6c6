"""`offerctl wait` believes a status the controller signed once, replayed by a merge.

`wait --allowed-signers` believes offers/OFFER/status.yaml when the commit that
made it what it is (the newest first-parent commit that changed it) is signed
by the controller's key. A pull request cannot sign, but it can reorder: a
merge commit whose FIRST parent is an old controller status commit (Live) and
whose second parent is the branch tip (where the controller has since written
Rejected), with the old status in its tree. Merged by fast-forward (git's
default for `git merge`, GitLab's fast-forward method), the branch's
first-parent line now runs tip -> merge -> old signed commit: the merge left
the file as its first parent had it, so the "introducing" commit is the old
signed one, and `wait --for phase=Live` exits 0 on a status the controller has
since replaced.

Fixed in `statustrust.written_by_controller`: the signed commit must also be
the latest word, i.e. no commit between it and the tip (a descendant of it and
an ancestor of the tip) holds another version of the file; and, since a
shallow clone (CI's fetch-depth 1) cuts the history that question needs and
makes its boundary commit look like the writer of every file, a cut history
between the signed commit and the tip is not believed either.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from example_offers import offer_files
from git_helpers import GitRepos, git

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))

from cli_helpers import make_status, offerctl, ssh_key

from controller.core.model import Phase
from controller.git.repo import GitRepo
from controller.git.tree import GitTreeFiles
from controller.reconcile.reconciler import default_validate
from controller.repo import status

OFFER = "contoso-app"
PATH = f"offers/{OFFER}/status.yaml"


def controller_commit(repo: Path, key: Path, phase: Phase) -> str:
    """A status commit as the controller makes it: signed with the operator's key."""
    with GitRepo(repo) as handle:
        head = handle.resolve("HEAD")
        assert head is not None
        check = default_validate(GitTreeFiles(handle.snapshot(head, [OFFER])), OFFER)
    written = make_status(OFFER, phase, now=datetime.now(UTC), generation=check.generation)
    (repo / PATH).write_text(status.render(written))
    git(repo, "add", "-A")
    git(repo, "-c", "gpg.format=ssh", "-c", f"user.signingKey={key}", "commit", "-S", "-qm",
        f"offerctl: {OFFER} is {phase.value}")  # fmt: skip
    return git(repo, "rev-parse", "HEAD").strip()


def wait(repo: Path, signers: Path, phase: str) -> int:
    ran = offerctl(
        "wait", OFFER, "--repo", str(repo), "--allowed-signers", str(signers),
        "--for", f"phase={phase}", "--timeout", "0.01", "--interval", "0.01",
    )  # fmt: skip
    return ran.code


def test_a_merge_cannot_bring_back_an_older_signed_status(
    gitrepos: GitRepos, tmp_path: Path
) -> None:
    repo = gitrepos.init("work", offer_files(OFFER, "live"))
    key, line = ssh_key(tmp_path, "controller")
    signers = tmp_path / "allowed_signers"
    signers.write_text(line)
    live = controller_commit(repo, key, Phase.LIVE)
    assert wait(repo, signers, "Live") == 0  # the controller's word, believed
    rejected = controller_commit(repo, key, Phase.REJECTED)
    assert wait(repo, signers, "Live") == 1

    # The pull request: a merge of the tip onto the old signed commit, old tree kept.
    tree = git(repo, "rev-parse", f"{live}^{{tree}}").strip()
    merge = git(repo, "commit-tree", tree, "-p", live, "-p", rejected, "-m",
                "Merge branch 'main' into docs-typo").strip()  # fmt: skip
    git(repo, "merge", "-q", "--ff-only", merge)  # fast-forward: tip descends from main
    assert git(repo, "show", f"HEAD:{PATH}") == git(repo, "show", f"{live}:{PATH}")

    assert wait(repo, signers, "Live") == 1  # the controller said Rejected since
    ran = offerctl("wait", OFFER, "--repo", str(repo), "--allowed-signers", str(signers),
                   "--for", "phase=Live", "--timeout", "0.01", "--interval", "0.01")  # fmt: skip
    assert "changed it since" in ran.err, ran
    assert wait(repo, signers, "Rejected") == 1  # and the merge's tree does not say that


def test_an_ordinary_merged_pull_request_keeps_the_status_believed(
    gitrepos: GitRepos, tmp_path: Path
) -> None:
    """No false alarm: a branch forked before the last status commit, merged normally."""
    repo = gitrepos.init("work", offer_files(OFFER, "live"))
    key, line = ssh_key(tmp_path, "controller")
    signers = tmp_path / "allowed_signers"
    signers.write_text(line)
    controller_commit(repo, key, Phase.REJECTED)
    git(repo, "checkout", "-qb", "topic")
    (repo / "README.md").write_text("a typo fixed\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Fix a typo")
    git(repo, "checkout", "-q", "main")
    controller_commit(repo, key, Phase.LIVE)
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge topic", "topic")
    assert wait(repo, signers, "Live") == 0
    # and a branch forked after it, fast-forwarded
    git(repo, "checkout", "-qb", "later")
    (repo / "README.md").write_text("another\n")
    git(repo, "commit", "-qam", "Another")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--ff-only", "later")
    assert wait(repo, signers, "Live") == 0


def test_a_shallow_clone_does_not_credit_a_forged_status_to_the_boundary_commit(
    gitrepos: GitRepos, tmp_path: Path
) -> None:
    """CI checks out one commit (fetch-depth 1): the signed tip then "introduced" everything.

    A pull request commits a Live status.yaml by hand; the controller's next
    status commit is for another offer and leaves that file as it is. In a
    depth-1 clone that signed commit has no parent, so it looks like the one
    that wrote the forged file. Deeper clones cut the merge replay above the
    same way (the superseding commit is out of sight).
    """
    other = "fabrikam-app"
    repo = gitrepos.init("work", {**offer_files(OFFER, "live"), **offer_files(other, "live")})
    key, line = ssh_key(tmp_path, "controller")
    signers = tmp_path / "allowed_signers"
    signers.write_text(line)
    with GitRepo(repo) as handle:
        head = handle.resolve("HEAD")
        assert head is not None
        check = default_validate(GitTreeFiles(handle.snapshot(head, [OFFER])), OFFER)
    forged = make_status(OFFER, Phase.LIVE, now=datetime.now(UTC), generation=check.generation)
    (repo / PATH).write_text(status.render(forged))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Add a status (from a pull request)")
    (repo / "offers" / other / "status.yaml").write_text(
        status.render(make_status(other, Phase.DRAFT, now=datetime.now(UTC)))
    )
    git(repo, "add", "-A")
    git(repo, "-c", "gpg.format=ssh", "-c", f"user.signingKey={key}", "commit", "-S", "-qm",
        f"offerctl: {other} is Draft")  # fmt: skip
    assert wait(repo, signers, "Live") == 1  # full history: the forgery is seen for what it is

    for depth in ("1", "2"):
        clone = tmp_path / f"ci-{depth}"
        git(tmp_path, "clone", "-q", "--depth", depth, "--branch", "main",
            f"file://{repo}", str(clone))  # fmt: skip
        assert wait(clone, signers, "Live") == 1, depth
    # The controller's own status commit at the tip, with its parent present, is believed;
    # a clone too shallow to show its parent is told to fetch more.
    controller_commit(repo, key, Phase.LIVE)
    deeper = tmp_path / "ci-deeper"
    git(tmp_path, "clone", "-q", "--depth", "2", "--branch", "main", f"file://{repo}", str(deeper))
    assert wait(deeper, signers, "Live") == 0
    shallow = tmp_path / "ci-shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", "--branch", "main", f"file://{repo}", str(shallow))
    ran = offerctl("wait", OFFER, "--repo", str(shallow), "--allowed-signers", str(signers),
                   "--for", "phase=Live", "--timeout", "0.01", "--interval", "0.01")  # fmt: skip
    assert ran.code == 1 and "fetch the full history" in ran.err, ran
