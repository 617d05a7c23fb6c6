"""controller.git.history: the history questions sign-off asks, on real repositories."""

from __future__ import annotations

import pytest
from git_helpers import GitRepos
from signoff_helpers import ANA, CARL, OFFER, make_offers_repo, signoff_yaml

from controller.git import history as githistory

SIGNOFF = f"offers/{OFFER}/signoff.yaml"


def test_the_merge_not_the_branch_commit_introduced_the_content(gitrepos: GitRepos) -> None:
    repo = make_offers_repo(gitrepos)
    repo.git("checkout", "-q", "-b", "signoff/x")
    repo.commit({SIGNOFF: signoff_yaml("sha256:" + "1" * 64)}, "first try", CARL)
    repo.commit({SIGNOFF: signoff_yaml(repo.generation())}, "second try", CARL)
    repo.git("checkout", "-q", "main")
    repo.commit({"README.md": "main moved on\n"}, "docs", ANA)
    merge = repo.merge(trailers=("Approved-by: Ana Approver <ana@contoso.com>",))
    repo.commit({"README.md": "later\n"}, "docs again", ANA)

    assert githistory.introducing_commit(repo.path, repo.head(), SIGNOFF) == merge
    info = githistory.commit_info(repo.path, merge)
    assert info.is_merge and not info.signed
    assert "Approved-by: Ana Approver <ana@contoso.com>" in info.trailers_text
    assert [c.author_email for c in githistory.merged_commits(repo.path, info)] == [
        CARL[1],
        CARL[1],
    ]


def test_absent_path_has_no_introducing_commit(gitrepos: GitRepos) -> None:
    repo = make_offers_repo(gitrepos)

    assert githistory.introducing_commit(repo.path, repo.head(), SIGNOFF) is None


@pytest.mark.parametrize("bad", ["HEAD", "--output=/tmp/x", "abc", "A" * 40, ""])
def test_only_full_hex_ids_reach_git(bad: str) -> None:
    with pytest.raises(ValueError, match="hex"):
        githistory.check_oid(bad)


@pytest.mark.parametrize(
    "bad", ["../etc/passwd", "/etc/passwd", ".git/config", "offers/../x", ":(glob)*", "-x y", ""]
)
def test_only_plain_repository_paths_reach_git(bad: str) -> None:
    with pytest.raises(ValueError, match="plain repository path"):
        githistory.check_path(bad)


def test_a_missing_object_is_a_history_error(gitrepos: GitRepos) -> None:
    repo = make_offers_repo(gitrepos)

    with pytest.raises(githistory.GitHistoryError):
        githistory.commit_info(repo.path, "0123456789" * 4)
