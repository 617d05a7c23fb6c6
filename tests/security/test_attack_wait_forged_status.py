"""`offerctl wait` gates on status.yaml, which a pull request can write by hand.

status.yaml is output, never authority (docs/DESIGN.md §4), yet `wait` exits 0
on a committed status.yaml that says Live for the manifest's generation, and
that generation is computable by anyone with the manifest. A pull request
that adds such a file (merged, or read at its own head in CI) satisfies
`wait --for phase=Live` for an offer the marketplace has never seen.

Fixed by signed status commits (controller/commands/statustrust.py): the
controller signs its status commits with the operator's SSH key
(OFFERCTL_STATUS_SIGNING_KEY) and `wait --allowed-signers FILE` believes a
status only where that key signed its last change. Without a trust anchor,
`wait` refuses; `--unverified` accepts any status and says so.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from example_offers import offer_files
from git_helpers import GitRepos, git

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))

from cli_helpers import env, make_status, offerctl, ssh_key

from controller.core.model import Phase
from controller.git.repo import GitRepo
from controller.git.tree import GitTreeFiles
from controller.reconcile.reconciler import default_validate
from controller.repo import status

OFFER = "contoso-app"


def forge(repo: Path, *sign: str) -> None:
    """A person commits a status.yaml saying Live for the manifest's generation."""
    with GitRepo(repo) as handle:
        head = handle.resolve("HEAD")
        assert head is not None
        check = default_validate(GitTreeFiles(handle.snapshot(head, [OFFER])), OFFER)
    forged = make_status(OFFER, Phase.LIVE, now=datetime.now(UTC), generation=check.generation)
    (repo / "offers" / OFFER / "status.yaml").write_text(status.render(forged))
    git(repo, "add", "-A")
    git(repo, *sign, "commit", "-qm", "Add a status (from a pull request)")


def test_wait_is_not_satisfied_by_a_hand_written_status(gitrepos: GitRepos) -> None:
    repo = gitrepos.init("work", offer_files(OFFER, "live"))
    forge(repo)

    ran = offerctl("wait", OFFER, "--repo", str(repo), "--for", "phase=Live",
                   "--timeout", "1s", "--interval", "1s")  # fmt: skip

    assert ran.code != 0, ran.out
    assert "trust anchor" in ran.err
    # Told to believe any status, it does, and says plainly that the answer is unverified.
    ran = offerctl("wait", OFFER, "--repo", str(repo), "--for", "phase=Live", "--unverified",
                   "--timeout", "1s", "--interval", "1s")  # fmt: skip
    assert ran.code == 0 and "UNVERIFIED" in ran.out, ran


@pytest.mark.slow(budget=20)  # reconcile passes until sign-off, then six waits
def test_wait_believes_only_statuses_the_controller_signed(
    gitrepos: GitRepos, tmp_path: Path
) -> None:
    repo = gitrepos.init("work", offer_files(OFFER, "live"))
    key, signer = ssh_key(tmp_path, "controller")
    signers = tmp_path / "allowed_signers"
    signers.write_text(signer)
    trusted = ("--repo", str(repo), "--allowed-signers", str(signers),
               "--timeout", "1s", "--interval", "1s")  # fmt: skip
    with env(OFFERCTL_STATUS_SIGNING_KEY=str(key)):
        for _ in range(8):  # the simulated marketplace, a week in 0.6 s
            ran = offerctl("reconcile", "--repo", str(repo), "--branch", "main",
                           "--marketplace", "sim", "--time-scale", "1000000")  # fmt: skip
            assert ran.code == 0, ran.err
            if offerctl("wait", OFFER, "--for", "phase=AwaitingSignOff", *trusted).code == 0:
                break
        else:
            pytest.fail("the offer never reached AwaitingSignOff")
    # The controller's status commit verifies against the operator's allowed signers.
    last = git(repo, "log", "-1", "--format=%H", "--", f"offers/{OFFER}/status.yaml").strip()
    proc = subprocess.run(
        ["git", "-c", f"gpg.ssh.allowedSignersFile={signers}", "verify-commit", last],
        cwd=repo, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    # A status written by hand on top is ignored: not met, and the reason is told.
    forge(repo)
    ran = offerctl("wait", OFFER, "--for", "phase=Live", *trusted)
    assert ran.code == 1, ran.out
    assert "no allowed signer signed" in ran.err
    # Signed by a key of the forger's own: still not the controller's.
    mine, _ = ssh_key(tmp_path, "forger")
    forge(repo, "-c", "gpg.format=ssh", "-c", f"user.signingKey={mine}", "-c",
          "commit.gpgSign=true")  # fmt: skip
    ran = offerctl("wait", OFFER, "--for", "phase=Live", *trusted)
    assert ran.code == 1, ran.out
    assert "no allowed signer signed" in ran.err
    # Replayed: the controller's own first status, committed again by hand, is not
    # believed either (it is not what the controller says now).
    path = f"offers/{OFFER}/status.yaml"
    first = git(repo, "log", "--reverse", "--format=%H", "--", path).split()[0]
    old = yaml.safe_load(git(repo, "show", f"{first}:{path}"))
    (repo / path).write_text(git(repo, "show", f"{first}:{path}"))
    git(repo, "commit", "-qam", "Restore an earlier status")
    ran = offerctl("wait", OFFER, "--for", f"phase={old['phase']}", *trusted)
    assert ran.code == 1, ran.out
    assert "no allowed signer signed" in ran.err
