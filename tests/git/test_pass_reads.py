"""What a pass reads with fewer git processes answers as git itself would.

Each shortcut (refs read together, HEAD read from its file, a commit's head read
through the batch reader, the policy taken from a kept listing, a status commit's
changes known without asking, two refs moved in one transaction) is checked here
against the git command it replaces, on real repositories.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from git_helpers import GitRepos, git

from controller.git import checkout
from controller.git.repo import GitRepo, Identity
from controller.reconcile.land import moved_paths

BOT = Identity("offerctl", "offerctl@localhost")
FILES = {
    "offers/alpha/offer.yaml": "kind: Offer\n",
    "offers/alpha/status.yaml": "phase: Draft\n",
    "offers/beta/offer.yaml": "kind: Offer\n",
    "publishing.yaml": "kind: Publishing\n",
    ".github/CODEOWNERS": "offers/ @owners\n",
    "docs/readme.md": "not policy\n",
}


@pytest.fixture
def repo(gitrepos: GitRepos) -> Path:
    return gitrepos.init("work", FILES)


class TestHeadBranch:
    def test_a_branch_shadowed_by_a_tag_keeps_its_name(self, repo: Path) -> None:
        git(repo, "tag", "main")  # `git symbolic-ref --short HEAD` now says heads/main
        with GitRepo(repo) as grepo:
            assert grepo.head_branch() == "main"

    def test_a_detached_head_names_no_branch(self, repo: Path) -> None:
        git(repo, "checkout", "-q", "--detach")
        with GitRepo(repo) as grepo:
            assert grepo.head_branch() is None

    def test_a_switched_branch_is_seen_at_once(self, repo: Path) -> None:
        with GitRepo(repo) as grepo:
            git(repo, "checkout", "-q", "-b", "release/1")
            assert grepo.head_branch() == "release/1"

    def test_a_linked_worktree_reads_its_own_head(self, gitrepos: GitRepos, repo: Path) -> None:
        other = gitrepos.root / "other"
        git(repo, "worktree", "add", "-q", "-b", "side", str(other))
        with GitRepo(other) as grepo:
            assert grepo.head_branch() == "side"
        with GitRepo(repo) as grepo:
            assert grepo.head_branch() == "main"

    def test_a_head_file_git_would_not_write_is_asked_of_git(self, repo: Path) -> None:
        with GitRepo(repo) as grepo:
            # git itself reads past the CR; the file reader does not, so git is asked
            (grepo.git_dir / "HEAD").write_bytes(b"ref: refs/heads/main\r\n")
            assert git(repo, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
            assert grepo.head_branch() == "main"


class TestResolveRefs:
    def test_answers_as_rev_parse_does(self, gitrepos: GitRepos, repo: Path) -> None:
        head = gitrepos.head(repo)
        git(repo, "tag", "-a", "-m", "annotated", "v1")
        tree = git(repo, "rev-parse", "HEAD^{tree}").strip()
        git(repo, "update-ref", "refs/offerctl/tree", tree)  # names no commit
        git(repo, "branch", "mainly")  # a longer name the pattern `main` must not take
        with GitRepo(repo) as grepo:
            refs = ["refs/heads/main", "refs/tags/v1", "refs/offerctl/tree",
                    "refs/offerctl/none", "refs/heads/mai"]  # fmt: skip
            found = grepo.resolve_refs(refs)
            assert found == {ref: grepo.resolve(ref) for ref in refs}
            assert found["refs/heads/main"] == head == found["refs/tags/v1"]
            assert found["refs/offerctl/tree"] is None
            assert found["refs/heads/mai"] is None

    def test_refuses_names_for_each_ref_would_read_as_patterns(self, repo: Path) -> None:
        with GitRepo(repo) as grepo:
            for bad in ("refs/heads/*", "main", "refs/heads/[a]"):
                with pytest.raises(ValueError):
                    grepo.resolve_refs([bad])


class TestCommitHead:
    def test_parents_and_subject(self, gitrepos: GitRepos, repo: Path) -> None:
        first = gitrepos.head(repo)
        second = gitrepos.commit(repo, {"docs/x.md": "x\n"}, "status: alpha Live\n\nbody")
        with GitRepo(repo) as grepo:
            assert grepo.commit_head(second) == ((first,), "status: alpha Live")
            assert grepo.commit_head(first) == ((), "Initial commit")
            blob = git(repo, "rev-parse", "HEAD:docs/x.md").strip()
            assert grepo.commit_head(blob) is None  # not a commit

    def test_an_outsized_commit_is_not_read(self, gitrepos: GitRepos, repo: Path) -> None:
        message = gitrepos.root / "message"
        message.write_text("status: " + "x" * (1024 * 1024))
        git(repo, "commit", "-q", "--allow-empty", "-F", str(message))
        big = gitrepos.head(repo)
        with GitRepo(repo) as grepo:
            assert grepo.commit_head(big) is None
            # read past, not left in the pipe: the reader answers the next question right
            assert grepo.commit_head(big) is None
            assert grepo.commit_head(gitrepos.head(repo, "HEAD~1")) is not None
            assert len(grepo.objects.pids) == 1  # --batch alone: no --batch-check started


class TestPolicyListing:
    def test_the_policy_from_a_kept_listing_is_git_s_own(self, repo: Path) -> None:
        with GitRepo(repo) as grepo:
            tip = grepo.resolve("refs/heads/main")
            assert tip is not None
            fresh = dict(grepo.snapshot(tip, ()).entries)  # asked of git
        with GitRepo(repo) as grepo:
            grepo.snapshot(tip, ["alpha"])  # kept: one offer and the policy files
            derived = dict(grepo.snapshot(tip, ()).entries)
        assert derived == fresh
        assert set(fresh) == {"publishing.yaml", ".github/CODEOWNERS"}


class TestKnownChanges:
    def test_a_status_commit_s_changes_are_those_git_finds(self, repo: Path) -> None:
        with GitRepo(repo) as grepo:
            base = grepo.resolve("refs/heads/main")
            assert base is not None
            updates: dict[str, bytes | None] = {
                "offers/alpha/status.yaml": b"phase: Live\n",  # changed
                "offers/beta/status.yaml": b"phase: Draft\n",  # new
            }
            commit = grepo.write_commit(base, updates, "status: two", BOT)
            assert commit is not None
            changes = {p: git(repo, "rev-parse", f"{commit}:{p}").strip() for p in updates}
            snapshot = grepo.snapshot(base, ["alpha", "beta"])
            known = moved_paths(snapshot, changes)
            assert known == checkout._moved(grepo.runner, base, commit, set(changes))
            gone = grepo.write_commit(commit, {"offers/beta/status.yaml": None}, "s", BOT)
            assert gone is not None
            after = grepo.snapshot(commit, ["beta"])
            assert moved_paths(after, {"offers/beta/status.yaml": None}) == checkout._moved(
                grepo.runner, commit, gone, {"offers/beta/status.yaml"}
            )


class TestReconciledRefs:
    def test_refs_move_together(self, gitrepos: GitRepos, repo: Path) -> None:
        first = gitrepos.head(repo)
        second = gitrepos.commit(repo, {"docs/z.md": "z\n"})
        with GitRepo(repo) as grepo:
            grepo.record_reconciled_refs({"refs/offerctl/a": None, "refs/offerctl/b": None}, first)
            git(repo, "update-ref", "refs/offerctl/b", second)
            grepo.record_reconciled_refs(
                {"refs/offerctl/a": first, "refs/offerctl/b": first}, second
            )
            assert grepo.resolve_refs(["refs/offerctl/a", "refs/offerctl/b"]) == {
                "refs/offerctl/a": second,
                "refs/offerctl/b": second,
            }
