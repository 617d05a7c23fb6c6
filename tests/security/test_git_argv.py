"""User-given names never become git options, ranges or paths outside the repository.

Branch and remote names reach git's argv (fetch, push, rev-parse, update-ref);
an offer id becomes a path. Each is tried through the real command line and
through the library seams, on a real repository whose remote is a bare repo:
a name shaped like an option must be refused before git runs, and nothing may
appear on disk as a side effect.
"""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime
from pathlib import Path

import pytest
from git_helpers import GitRepos

from controller import cli
from controller.core.errors import UsageError
from controller.git.repo import GitRepo
from controller.marketplace.simulated import SimulatedMarketplace
from controller.reconcile.reconciler import Reconciler, Watch, default_validate

EVIL_BRANCHES = [
    "--upload-pack=touch PWNED",
    "-x",
    "main..x",
    "main~1",
    "ma:in",
    "refs/../../x",
    "@{-1}",
    "main.lock",
    "x\nmain",
]
EVIL_REMOTES = ["--upload-pack=touch PWNED", "ext::sh -c touch% PWNED", "../origin", "a/b", "-o"]


def offerctl(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        code = cli.main(list(argv))
    return code, err.getvalue()


@pytest.fixture
def clone(gitrepos: GitRepos) -> Path:
    bare = gitrepos.bare("origin.git", {"README.md": "offers\n"})
    return gitrepos.clone(bare, "work")


@pytest.mark.parametrize("branch", EVIL_BRANCHES)
def test_reconcile_refuses_a_branch_name_that_is_not_a_plain_branch(
    clone: Path, branch: str
) -> None:
    code, err = offerctl(
        "reconcile", "--repo", str(clone), "--remote", "origin", f"--branch={branch}"
    )

    assert code == 2, err
    assert "invalid branch name" in err
    assert not (clone / "PWNED").exists()


@pytest.mark.parametrize("remote", EVIL_REMOTES)
def test_reconcile_refuses_a_remote_that_is_not_a_configured_name(clone: Path, remote: str) -> None:
    code, err = offerctl(
        "reconcile", "--repo", str(clone), f"--remote={remote}", "--branch", "main"
    )

    assert code == 2, err
    assert "remote" in err
    assert not (clone / "PWNED").exists()


@pytest.mark.parametrize("offer", ["../x", "../../etc", "/abs", ".git", "a/b", "-x", "X"])
def test_signoff_refuses_an_offer_id_that_is_not_a_folder_name(clone: Path, offer: str) -> None:
    before = sorted(p.name for p in clone.iterdir())

    code, err = offerctl("signoff", "--repo", str(clone), "--", offer)

    assert code == 2, err
    assert "not an offer id" in err
    assert sorted(p.name for p in clone.iterdir()) == before


@pytest.mark.parametrize("revision", ["--output=PWNED", "HEAD..main", "-p"])
def test_signoff_refuses_a_base_revision_shaped_like_an_option(clone: Path, revision: str) -> None:
    code, err = offerctl("signoff", "demo-offer", "--repo", str(clone), f"--from={revision}")

    assert code == 2, err
    assert not (clone / "PWNED").exists()


@pytest.mark.parametrize("branch", ["main..x", "--upload-pack=touch PWNED", "-x"])
def test_the_reconciler_itself_refuses_an_unsafe_branch_name(
    clone: Path, tmp_path: Path, branch: str
) -> None:
    with GitRepo(clone) as repo:
        reconciler = Reconciler(
            repo,
            SimulatedMarketplace(tmp_path / "market.db", time_scale=1.0),
            validate=default_validate,
            watch=Watch(branch=branch),
            clock=lambda: datetime(2026, 1, 5, tzinfo=UTC),
        )

        with pytest.raises(UsageError):
            reconciler.run_pass()
    assert not (clone / "PWNED").exists()
