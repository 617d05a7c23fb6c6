"""The reconciler's git adapter, against real repositories in tmp dirs."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from git_helpers import GitRepos, git

from controller.core.errors import FatalError, TransientError, UsageError, UserError
from controller.git import checkout
from controller.git.repo import (
    KEPT_BLOB_BYTES,
    BlobTooLarge,
    GitRepo,
    Identity,
    PushRejected,
    RefMoved,
    blob_oid,
    check_branch_name,
    check_ref_name,
    check_remote_name,
    redact,
)
from controller.git.tree import EntryKind, GitTreeFiles
from controller.reconcile.land import finish_checkout_sync
from controller.validation.files import FileReadError

OFFER = "apiVersion: offers.marketplace/v1\nkind: Offer\nmetadata: {name: alpha}\n"
BOT = Identity("offerctl", "offerctl@localhost")


@pytest.fixture
def repo(gitrepos: GitRepos) -> Path:
    return gitrepos.init(
        "work",
        {
            "offers/alpha/offer.yaml": OFFER,
            "offers/alpha/status.yaml": "phase: Draft\n",
            "offers/alphabet/offer.yaml": "x: 1\n",
            "publishing.yaml": "kind: Publishing\n",
            "README.md": "not read by the controller\n",
        },
    )


@pytest.fixture
def grepo(repo: Path) -> GitRepo:
    with GitRepo(repo) as opened:
        yield opened  # type: ignore[misc]


class TestNames:
    """Names that reach git's argv are checked first."""

    @pytest.mark.parametrize("name", ["main", "release/2026-11", "feature/a.b", "v1_2"])
    def test_ordinary_branch_names_pass(self, name: str) -> None:
        assert check_branch_name(name) == name

    @pytest.mark.parametrize(
        "name",
        [
            "",
            "-main",
            "--upload-pack=evil",
            "a..b",
            "a b",
            "a\x01b",
            "a~1",
            "a^",
            "a:b",
            "a?",
            "a*",
            "a[b",
            "a\\b",
            "a/",
            "/a",
            "a//b",
            "a.",
            ".hidden",
            "a/.b",
            "x.lock",
            "a/b.lock/c",
            "@",
            "a@{1}",
            "HEAD",
        ],
    )
    def test_unsafe_branch_names_are_usage_errors(self, name: str) -> None:
        with pytest.raises(UsageError):
            check_branch_name(name)

    @pytest.mark.parametrize("name", ["origin", "up-stream", "mirror.2", "a_b"])
    def test_remote_names_pass(self, name: str) -> None:
        assert check_remote_name(name) == name

    @pytest.mark.parametrize(
        "name",
        [
            "-origin",
            "https://example.com/r.git",
            "a/b",
            "ext::sh -c id",
            "a..b",
            "",
            ".x",
        ],
    )
    def test_urls_and_option_like_remotes_are_refused(self, name: str) -> None:
        with pytest.raises(UsageError):
            check_remote_name(name)

    def test_ref_names_with_dotdot_are_refused(self) -> None:
        with pytest.raises(UsageError, match=r"\.\."):
            check_ref_name("refs/heads/../../config")

    def test_credentials_in_urls_are_redacted(self) -> None:
        text = "fatal: unable to access 'https://x-access-token:ghp_SECRET@github.com/o/r.git/'"
        assert "ghp_SECRET" not in redact(text)
        assert "https://***@github.com" in redact(text)


class TestOpening:
    def test_a_plain_directory_is_a_fatal_error(self, tmp_path: Path) -> None:
        with pytest.raises(FatalError, match="not a git repository"):
            GitRepo(tmp_path)

    def test_head_branch_and_resolve(self, grepo: GitRepo, repo: Path) -> None:
        assert grepo.head_branch() == "main"
        assert grepo.resolve("refs/heads/main") == git(repo, "rev-parse", "HEAD").strip()
        assert grepo.resolve("refs/heads/nope") is None

    def test_detached_head_has_no_branch(self, grepo: GitRepo, repo: Path) -> None:
        git(repo, "checkout", "-q", "--detach")
        assert grepo.head_branch() is None

    def test_blob_oid_matches_git_hash_object(self, repo: Path) -> None:
        data = b"phase: Live\n\x00binary\xff"
        expected = git(repo, "hash-object", "--stdin", input=data).strip()
        assert blob_oid(data) == expected


class TestSnapshot:
    """A commit's tree is read from the object database, not the working tree."""

    def test_lists_offers_and_policy_files_only(self, grepo: GitRepo, repo: Path) -> None:
        snap = grepo.snapshot(grepo.resolve("HEAD") or "")
        assert sorted(snap.entries) == [
            "offers/alpha/offer.yaml",
            "offers/alpha/status.yaml",
            "offers/alphabet/offer.yaml",
            "publishing.yaml",
        ]
        assert snap.offer_ids() == ["alpha", "alphabet"]
        assert snap.read("offers/alpha/offer.yaml") == OFFER.encode()

    def test_uncommitted_edits_are_not_seen(self, grepo: GitRepo, repo: Path) -> None:
        (repo / "offers/alpha/offer.yaml").write_text("half: edited\n")
        (repo / "offers/new/offer.yaml").parent.mkdir()
        (repo / "offers/new/offer.yaml").write_text("x: 1\n")
        snap = grepo.snapshot(grepo.resolve("HEAD") or "")
        assert snap.read("offers/alpha/offer.yaml") == OFFER.encode()
        assert "offers/new/offer.yaml" not in snap.entries

    def test_selected_offers_do_not_match_by_prefix(self, grepo: GitRepo) -> None:
        snap = grepo.snapshot(grepo.resolve("HEAD") or "", offers=["alpha"])
        assert not snap.complete
        assert snap.offer_ids() == ["alpha"]
        assert "publishing.yaml" in snap.entries

    def test_symlinks_and_submodules_are_reported_never_followed(
        self, gitrepos: GitRepos, repo: Path
    ) -> None:
        (repo / "offers/alpha/logo.png").symlink_to("/etc/passwd")
        head = gitrepos.head(repo)
        git(repo, "update-index", "--add", "--cacheinfo", f"160000,{head},offers/alpha/sub")
        git(repo, "add", "offers/alpha/logo.png")
        git(repo, "commit", "-q", "-m", "symlink")
        commit = gitrepos.head(repo)
        with GitRepo(repo) as grepo:
            snap = grepo.snapshot(commit)
            files = GitTreeFiles(snap)
            assert snap.entries["offers/alpha/logo.png"].kind is EntryKind.SYMLINK
            assert files.kind("offers/alpha/logo.png") == "symlink"
            assert files.kind("offers/alpha/sub") == "other"
            assert files.kind("offers/alpha") == "dir"
            assert files.kind("offers/alpha/../../etc/passwd") == "missing"
            assert files.kind("/etc/passwd") == "missing"
            with pytest.raises(FileReadError, match="symlink") as err:
                files.read("offers/alpha/logo.png", 1000)
            assert err.value.code == "OutsideRepository"
            with pytest.raises(FileReadError, match="submodule"):
                files.read("offers/alpha/sub", 1000)
            assert files.list_dir("offers/alpha") == [
                "logo.png",
                "offer.yaml",
                "status.yaml",
                "sub",
            ]
            assert files.list_dir("") == ["offers", "publishing.yaml"]
            assert files.list_dir("offers/nope") == []

    def test_blobs_over_the_cap_are_refused_unread(self, grepo: GitRepo) -> None:
        snap = grepo.snapshot(grepo.resolve("HEAD") or "", max_blob_bytes=10)
        with pytest.raises(FileReadError, match="limit") as err:
            snap.read("offers/alpha/offer.yaml")
        assert err.value.code == "FileTooLarge"
        assert snap.read("offers/alphabet/offer.yaml") == b"x: 1\n"
        with pytest.raises(FileReadError):
            GitTreeFiles(snap).read("offers/alphabet/offer.yaml", 2)

    def test_many_blobs_share_one_reader_process(self, gitrepos: GitRepos) -> None:
        files = {f"offers/o{i:03}/offer.yaml": f"n: {i}\n" for i in range(300)}
        repo = gitrepos.init("many", files)
        with GitRepo(repo) as grepo:
            snap = grepo.snapshot(gitrepos.head(repo))
            started = time.perf_counter()
            contents = [snap.read(f"offers/o{i:03}/offer.yaml") for i in range(300)]
            elapsed = time.perf_counter() - started
        assert contents[299] == b"n: 299\n"
        assert elapsed < 1.0  # one process, not 300


class TestHistory:
    def test_changed_paths_lists_adds_edits_and_deletes(
        self, gitrepos: GitRepos, repo: Path, grepo: GitRepo
    ) -> None:
        old = gitrepos.head(repo)
        new = gitrepos.commit(
            repo,
            {
                "offers/alpha/offer.yaml": OFFER + "# edit\n",
                "offers/alphabet/offer.yaml": None,
                "offers/gamma/offer.yaml": "x: 2\n",
            },
        )
        assert sorted(grepo.changed_paths(old, new)) == [
            "offers/alpha/offer.yaml",
            "offers/alphabet/offer.yaml",
            "offers/gamma/offer.yaml",
        ]
        assert grepo.changed_paths(new, new) == []

    def test_rewritten_history_is_not_an_ancestor(
        self, gitrepos: GitRepos, repo: Path, grepo: GitRepo
    ) -> None:
        first = gitrepos.head(repo)
        second = gitrepos.commit(repo, {"offers/alpha/x.txt": "1"})
        assert grepo.is_ancestor(first, second)
        assert grepo.is_ancestor(second, second)
        git(repo, "reset", "-q", "--hard", first)
        rewritten = gitrepos.commit(repo, {"offers/alpha/x.txt": "2"})
        assert not grepo.is_ancestor(second, rewritten)
        assert not grepo.is_ancestor("1" * 40, rewritten)


class TestWriteCommit:
    """Status commits are built in a private index; the user's tree and index are never touched."""

    def test_commit_holds_base_tree_plus_updates_with_controller_identity(
        self, gitrepos: GitRepos, repo: Path, grepo: GitRepo
    ) -> None:
        base = gitrepos.head(repo)
        commit = grepo.write_commit(
            base,
            {"offers/alpha/status.yaml": b"phase: Live\n"},
            "status: alpha Draft\u2192Live",
            BOT,
            when=1_700_000_000,
        )
        assert commit is not None
        assert gitrepos.show(repo, commit, "offers/alpha/status.yaml") == "phase: Live\n"
        assert git(repo, "diff-tree", "-r", "--name-only", "--no-commit-id", base, commit) == (
            "offers/alpha/status.yaml\n"
        )
        meta = git(repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%P|%s|%at", commit)
        assert meta.strip() == (
            f"offerctl <offerctl@localhost>|offerctl <offerctl@localhost>|{base}|"
            "status: alpha Draft\u2192Live|1700000000"
        )
        assert gitrepos.head(repo) == base  # no ref moved

    def test_uncommitted_and_staged_work_is_left_alone(
        self, gitrepos: GitRepos, repo: Path, grepo: GitRepo
    ) -> None:
        (repo / "offers/alpha/offer.yaml").write_text("work in progress\n")
        (repo / "offers/alphabet/offer.yaml").write_text("staged\n")
        git(repo, "add", "offers/alphabet/offer.yaml")
        (repo / "scratch.txt").write_text("untracked\n")
        before = gitrepos.status(repo)
        commit = grepo.write_commit(
            gitrepos.head(repo), {"offers/alpha/status.yaml": b"phase: Live\n"}, "s", BOT
        )
        assert commit is not None
        assert gitrepos.status(repo) == before
        assert gitrepos.show(repo, commit, "offers/alpha/offer.yaml") == OFFER
        assert gitrepos.show(repo, commit, "offers/alphabet/offer.yaml") == "x: 1\n"
        assert "scratch.txt" not in git(repo, "ls-tree", "-r", "--name-only", commit)
        assert not list((grepo.common_dir / "offerctl").glob("index.*"))

    def test_identical_content_makes_no_commit(
        self, gitrepos: GitRepos, repo: Path, grepo: GitRepo
    ) -> None:
        assert (
            grepo.write_commit(
                gitrepos.head(repo), {"offers/alpha/status.yaml": b"phase: Draft\n"}, "s", BOT
            )
            is None
        )

    def test_new_and_deleted_status_files(
        self, gitrepos: GitRepos, repo: Path, grepo: GitRepo
    ) -> None:
        commit = grepo.write_commit(
            gitrepos.head(repo),
            {
                "offers/alpha/status.yaml": None,
                "offers/alphabet/status.yaml": b"phase: Invalid\n",
            },
            "s",
            BOT,
        )
        assert commit is not None
        listing = git(repo, "ls-tree", "-r", "--name-only", commit).split()
        assert "offers/alpha/status.yaml" not in listing
        assert "offers/alphabet/status.yaml" in listing

    @pytest.mark.parametrize(
        "path",
        [
            "README.md",
            "offers/x",
            "offers/../x/status.yaml",
            ".git/config",
            "offers/a/.git/x",
        ],
    )
    def test_paths_outside_offer_folders_are_refused(
        self, gitrepos: GitRepos, repo: Path, grepo: GitRepo, path: str
    ) -> None:
        with pytest.raises(ValueError, match="outside"):
            grepo.write_commit(gitrepos.head(repo), {path: b"x"}, "s", BOT)

    def test_update_ref_is_a_compare_and_swap(
        self, gitrepos: GitRepos, repo: Path, grepo: GitRepo
    ) -> None:
        base = gitrepos.head(repo)
        commit = grepo.write_commit(base, {"offers/alpha/status.yaml": b"a\n"}, "s", BOT)
        assert commit is not None
        moved = gitrepos.commit(repo, {"offers/alpha/notes.txt": "person"})
        with pytest.raises(RefMoved):
            grepo.update_ref("refs/heads/main", commit, base, "offerctl: status")
        assert gitrepos.head(repo) == moved
        grepo.update_ref("refs/heads/other", commit, None, "offerctl: status")
        assert gitrepos.head(repo, "refs/heads/other") == commit


class TestCheckedOutBranch:
    """Local mode moves the checked-out branch; untouched status files follow, edits stay."""

    def test_untouched_status_files_follow_the_branch(
        self, gitrepos: GitRepos, repo: Path, grepo: GitRepo
    ) -> None:
        base = gitrepos.head(repo)
        updates = {
            "offers/alpha/status.yaml": b"phase: Live\n",
            "offers/alphabet/status.yaml": b"phase: Invalid\n",
        }
        commit = grepo.write_commit(base, updates, "s", BOT)
        assert commit is not None
        grepo.update_ref("refs/heads/main", commit, base, "offerctl: status")
        synced = grepo.sync_checked_out("main", base, commit, updates)
        assert sorted(synced) == sorted(updates)
        assert (repo / "offers/alpha/status.yaml").read_text() == "phase: Live\n"
        assert gitrepos.status(repo) == ""
        # made as git's checkout makes a file (0666 less the umask), not private like a
        # temporary file: offer.yaml beside it was checked out by git itself
        git_made = (repo / "offers/alpha/offer.yaml").stat().st_mode & 0o777
        for path in updates:
            assert (repo / path).stat().st_mode & 0o777 == git_made, path

    def test_a_person_s_edit_of_a_status_file_is_kept(
        self, gitrepos: GitRepos, repo: Path, grepo: GitRepo
    ) -> None:
        base = gitrepos.head(repo)
        (repo / "offers/alpha/status.yaml").write_text("phase: hand-edited\n")
        (repo / "offers/alpha/offer.yaml").write_text("unsaved work\n")
        commit = grepo.write_commit(base, {"offers/alpha/status.yaml": b"phase: Live\n"}, "s", BOT)
        assert commit is not None
        grepo.update_ref("refs/heads/main", commit, base, "offerctl: status")
        assert grepo.sync_checked_out("main", base, commit, ["offers/alpha/status.yaml"]) == []
        assert (repo / "offers/alpha/status.yaml").read_text() == "phase: hand-edited\n"
        assert (repo / "offers/alpha/offer.yaml").read_text() == "unsaved work\n"

    def test_other_branches_leave_the_working_tree_alone(
        self, gitrepos: GitRepos, repo: Path, grepo: GitRepo
    ) -> None:
        base = gitrepos.head(repo)
        commit = grepo.write_commit(base, {"offers/alpha/status.yaml": b"phase: Live\n"}, "s", BOT)
        assert commit is not None
        assert grepo.sync_checked_out("other", base, commit, ["offers/alpha/status.yaml"]) == []
        assert (repo / "offers/alpha/status.yaml").read_text() == "phase: Draft\n"

    def test_an_index_a_person_s_git_holds_briefly_is_waited_for(
        self, gitrepos: GitRepos, repo: Path, grepo: GitRepo
    ) -> None:
        base = gitrepos.head(repo)
        path = "offers/alpha/status.yaml"
        commit = grepo.write_commit(base, {path: b"phase: Live\n"}, "s", BOT)
        assert commit is not None
        grepo.update_ref("refs/heads/main", commit, base, "offerctl: status")
        lock = repo / ".git" / "index.lock"
        lock.write_bytes(b"")  # a person's `git add` at work
        release = threading.Timer(0.15, lock.unlink)
        release.start()
        try:
            assert grepo.sync_checked_out("main", base, commit, [path]) == [path]
        finally:
            release.join()
        assert gitrepos.status(repo) == ""  # the index holds the new version: no revert
        assert grepo.synced_tip == commit

    @staticmethod
    def _sync_into_a_locked_index(
        gitrepos: GitRepos, repo: Path, grepo: GitRepo, monkeypatch: pytest.MonkeyPatch
    ) -> tuple[str, str, str]:
        """A status commit moved onto main whose checkout sync found the index locked
        throughout (the lock is gone afterwards): (base, commit, the status path)."""
        monkeypatch.setattr(checkout, "INDEX_LOCK_WAITS", (0.01,))
        base = gitrepos.head(repo)
        path = "offers/alpha/status.yaml"
        commit = grepo.write_commit(base, {path: b"phase: Live\n"}, "status: alpha Live", BOT)
        assert commit is not None
        grepo.update_ref("refs/heads/main", commit, base, "offerctl: status")
        lock = repo / ".git" / "index.lock"
        lock.write_bytes(b"")
        assert grepo.sync_checked_out("main", base, commit, [path]) == []
        lock.unlink()
        return base, commit, path

    def test_an_index_that_stays_locked_is_refreshed_by_the_next_pass(
        self, gitrepos: GitRepos, repo: Path, grepo: GitRepo, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        _, commit, path = self._sync_into_a_locked_index(gitrepos, repo, grepo, monkeypatch)
        assert grepo.synced_tip is None
        # The file is written but the index still holds the old version: a commit now
        # would revert it. The next pass's crash-recovery sync refreshes the index.
        assert (repo / path).read_text() == "phase: Live\n"
        assert gitrepos.status(repo) != ""
        finish_checkout_sync(grepo, "main", commit, None)
        assert gitrepos.status(repo) == ""
        assert grepo.synced_tip == commit

    def test_an_unsynced_index_is_synced_even_once_its_commit_is_recorded(
        self, gitrepos: GitRepos, repo: Path, grepo: GitRepo, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        base, commit, _ = self._sync_into_a_locked_index(gitrepos, repo, grepo, monkeypatch)
        assert gitrepos.status(repo) != ""
        # The pass then records `commit` as reconciled; the next pass is another process.
        with GitRepo(repo) as later:
            assert later.checkout_unsynced(commit) and not later.checkout_unsynced(base)
            finish_checkout_sync(later, "main", commit, commit)
            assert gitrepos.status(repo) == ""
            assert not later.checkout_unsynced(commit)  # done: the next pass skips it again


class TestRemote:
    """Fetch one branch, push without force, and tell a race from a failure."""

    @pytest.fixture
    def remote(self, gitrepos: GitRepos) -> Path:
        return gitrepos.bare("remote.git", {"offers/alpha/offer.yaml": OFFER})

    def test_fetch_push_round_trip(self, gitrepos: GitRepos, remote: Path) -> None:
        clone = gitrepos.clone(remote, "controller")
        with GitRepo(clone) as grepo:
            tip = grepo.fetch("origin", "main")
            commit = grepo.write_commit(tip, {"offers/alpha/status.yaml": b"s\n"}, "s", BOT)
            assert commit is not None
            grepo.push("origin", commit, "main")
        assert gitrepos.head(remote, "main") == commit

    def test_a_push_after_someone_else_pushed_is_rejected_not_forced(
        self, gitrepos: GitRepos, remote: Path
    ) -> None:
        clone = gitrepos.clone(remote, "controller")
        person = gitrepos.clone(remote, "person")
        with GitRepo(clone) as grepo:
            tip = grepo.fetch("origin", "main")
            commit = grepo.write_commit(tip, {"offers/alpha/status.yaml": b"s\n"}, "s", BOT)
            assert commit is not None
            theirs = gitrepos.commit(person, {"offers/alpha/offer.yaml": OFFER + "#\n"})
            git(person, "push", "-q", "origin", "main")
            with pytest.raises(PushRejected):
                grepo.push("origin", commit, "main")
            assert gitrepos.head(remote, "main") == theirs
            assert grepo.fetch("origin", "main") == theirs

    def test_a_missing_remote_branch_is_a_user_error(
        self, gitrepos: GitRepos, remote: Path
    ) -> None:
        clone = gitrepos.clone(remote, "controller")
        with GitRepo(clone) as grepo, pytest.raises(UserError, match="does not exist"):
            grepo.fetch("origin", "gone")

    def test_an_unreachable_remote_is_transient(self, gitrepos: GitRepos, remote: Path) -> None:
        clone = gitrepos.clone(remote, "controller")
        git(clone, "remote", "set-url", "origin", str(gitrepos.root / "vanished.git"))
        with GitRepo(clone) as grepo:
            with pytest.raises(TransientError, match="could not fetch"):
                grepo.fetch("origin", "main")
            with pytest.raises(TransientError, match="could not push"):
                grepo.push("origin", gitrepos.head(clone), "main")

    def test_unknown_remotes_are_usage_errors(self, gitrepos: GitRepos, remote: Path) -> None:
        clone = gitrepos.clone(remote, "controller")
        with GitRepo(clone) as grepo, pytest.raises(UsageError, match="no remote named"):
            grepo.fetch("upstream", "main")

    def test_a_hook_refusal_is_a_user_error(self, gitrepos: GitRepos, remote: Path) -> None:
        hook = remote / "hooks/pre-receive"
        hook.write_text("#!/bin/sh\necho protected >&2\nexit 1\n")
        hook.chmod(0o755)
        clone = gitrepos.clone(remote, "controller")
        with GitRepo(clone) as grepo:
            tip = grepo.fetch("origin", "main")
            commit = grepo.write_commit(tip, {"offers/alpha/status.yaml": b"s\n"}, "s", BOT)
            assert commit is not None
            with pytest.raises(UserError, match="refused"):
                grepo.push("origin", commit, "main")


class TestRecordsAndLocks:
    def test_the_reconciled_commit_survives_reopening(self, gitrepos: GitRepos, repo: Path) -> None:
        ref = GitRepo.reconciled_ref("main", "origin")
        assert ref == "refs/offerctl/reconciled/remotes/origin/main"
        with GitRepo(repo) as grepo:
            grepo.record_reconciled(ref, gitrepos.head(repo))
        with GitRepo(repo) as grepo:
            assert grepo.resolve(ref) == gitrepos.head(repo)

    def test_a_stale_lock_is_removed_and_a_fresh_one_waits(
        self, repo: Path, grepo: GitRepo
    ) -> None:
        lock = repo / ".git/index.lock"
        lock.write_text("")
        with pytest.raises(TransientError, match="held"):
            grepo.clear_stale_locks(max_age=600)
        assert lock.exists()
        old = time.time() - 3600
        os.utime(lock, (old, old))
        ref_lock = repo / ".git/refs/heads/main.lock"
        ref_lock.write_text("")
        os.utime(ref_lock, (old, old))
        assert sorted(grepo.clear_stale_locks(max_age=600)) == sorted([lock, ref_lock])
        assert not lock.exists() and not ref_lock.exists()

    def test_one_pass_lock_per_branch(self, grepo: GitRepo, repo: Path) -> None:
        with grepo.pass_lock("origin/main"):
            with GitRepo(repo) as other, pytest.raises(FatalError, match="another offerctl"):
                other.pass_lock("origin/main").__enter__()
            with grepo.pass_lock("origin/release"):
                pass


def test_a_commits_listing_is_kept_for_the_same_question_only(gitrepos: GitRepos) -> None:
    repo_dir = gitrepos.init(
        "repo", {"offers/a/offer.yaml": "a: 1\n", "offers/b/offer.yaml": "b: 1\n"}
    )
    with GitRepo(repo_dir) as repo:
        first = repo.resolve("HEAD") or ""
        every = repo.snapshot(first)
        assert repo.snapshot(first).entries is every.entries  # a commit's tree never changes
        only_a = repo.snapshot(first, ["a"])
        assert only_a.entries is not every.entries and only_a.offer_ids() == ["a"]
        assert repo.snapshot(first, {"a"}).entries is only_a.entries
        second = gitrepos.commit(repo_dir, {"offers/c/offer.yaml": "c: 1\n"})
        assert repo.snapshot(second).offer_ids() == ["a", "b", "c"]
        assert repo.snapshot(first).offer_ids() == ["a", "b"]  # listed again: not kept


def test_a_small_blob_that_folders_share_is_read_from_git_once(
    gitrepos: GitRepos, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = "x" * (KEPT_BLOB_BYTES + 1)
    repo_dir = gitrepos.init(
        "repo",
        {
            "offers/a/logo.png": "same bytes\n",
            "offers/b/logo.png": "same bytes\n",
            "offers/a/package.zip": big,
        },
    )
    with GitRepo(repo_dir) as repo:
        files = GitTreeFiles(repo.snapshot(repo.resolve("HEAD") or ""))
        asked: list[str] = []
        read = repo.objects.read
        monkeypatch.setattr(
            repo.objects, "read", lambda oid, limit=None: asked.append(oid) or read(oid, limit)
        )
        assert files.read("offers/a/logo.png", 100) == b"same bytes\n"
        assert files.read("offers/b/logo.png", 100) == b"same bytes\n"
        assert len(asked) == 1  # the same blob id: its bytes are kept
        logo = blob_oid(b"same bytes\n")
        with pytest.raises(BlobTooLarge):  # a kept blob still honours a smaller limit
            repo.read_blob(logo, limit=5)
        for _ in range(2):
            assert files.read("offers/a/package.zip", len(big)) == big.encode()
        assert len(asked) == 4  # a blob over the size kept is read every time
