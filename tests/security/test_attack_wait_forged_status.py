"""`offerctl wait` gates on status.yaml, which a pull request can write by hand.

status.yaml is output, never authority (docs/DESIGN.md §4), yet `wait` exits 0
on a committed status.yaml that says Live for the manifest's generation, and
that generation is computable by anyone with the manifest. A pull request
that adds such a file (merged, or read at its own head in CI) satisfies
`wait --for phase=Live` for an offer the marketplace has never seen.

Known hole, not fixed: needs a design decision on what proves a status was
the controller's (e.g. the reconciled ref, or signed status commits).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from example_offers import offer_files
from git_helpers import GitRepos, git

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))

from cli_helpers import make_status, offerctl

from controller.core.model import Phase
from controller.git.repo import GitRepo
from controller.git.tree import GitTreeFiles
from controller.reconcile.reconciler import default_validate
from controller.repo import status

OFFER = "contoso-app"


@pytest.mark.xfail(strict=True, reason="wait trusts a hand-written status.yaml (reported)")
def test_wait_is_not_satisfied_by_a_hand_written_status(gitrepos: GitRepos) -> None:
    repo = gitrepos.init("work", offer_files(OFFER, "live"))
    with GitRepo(repo) as handle:
        head = handle.resolve("HEAD")
        assert head is not None
        check = default_validate(GitTreeFiles(handle.snapshot(head, [OFFER])), OFFER)
    forged = make_status(OFFER, Phase.LIVE, now=datetime.now(UTC), generation=check.generation)
    (repo / "offers" / OFFER / "status.yaml").write_text(status.render(forged))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Add a status (from a pull request)")

    ran = offerctl("wait", OFFER, "--repo", str(repo), "--for", "phase=Live",
                   "--timeout", "1s", "--interval", "1s")  # fmt: skip

    assert ran.code != 0, ran.out
