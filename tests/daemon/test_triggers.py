"""Triggers: file changes under offers/ (never our own status writes) and the remote moving."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from daemon_helpers import wait_until

from controller.core.errors import TransientError, UsageError
from controller.daemon.triggers import (
    OffersWatcher,
    RemotePoller,
    check_ref_part,
    keys_for_git_path,
    keys_for_path,
    ls_remote_probe,
)
from controller.daemon.workqueue import ALL, CHANGED


class Inbox:
    """Collects what triggers enqueue."""

    def __init__(self) -> None:
        self.items: list[tuple[frozenset[str], str, float]] = []
        self._lock = threading.Lock()

    def __call__(self, keys: Iterable[str], source: str, delay: float) -> None:
        with self._lock:
            self.items.append((frozenset(keys), source, delay))

    def seen(self) -> set[str]:
        with self._lock:
            return set().union(*(k for k, _, _ in self.items)) if self.items else set()

    def clear(self) -> None:
        with self._lock:
            self.items.clear()


@pytest.mark.parametrize(
    ("rel", "keys"),
    [
        ("offers/contoso/offer.yaml", {"contoso"}),
        ("offers/contoso/media/logo.png", {"contoso"}),
        ("offers/contoso", {"contoso"}),
        ("offers", {ALL}),
        ("offers/*/offer.yaml", {ALL}),
        ("publishing.yaml", {ALL}),
        ("CODEOWNERS", {ALL}),
        (".github/CODEOWNERS", {ALL}),  # GitHub reads these two as well (repo.layout)
        ("docs/CODEOWNERS", {ALL}),
        (".github/workflows/ci.yml", set()),
        ("docs/guide.md", set()),
        ("offers/contoso/status.yaml", set()),
        ("offers/contoso/.status.yaml.k2j3h4", set()),  # the status writer's temp file
        ("offers/contoso/.offer.yaml.swp", set()),
        ("offers/contoso/offer.yaml~", set()),
        (".git/index.lock", set()),
        (".git/refs/heads/main", set()),
        ("README.md", set()),
        ("docs/publishing.yaml", set()),
    ],
)
def test_which_paths_ask_for_which_keys(tmp_path: Path, rel: str, keys: set[str]) -> None:
    assert keys_for_path(tmp_path, str(tmp_path / rel)) == keys


def test_paths_outside_the_repository_ask_for_nothing(tmp_path: Path) -> None:
    assert keys_for_path(tmp_path / "repo", str(tmp_path / "elsewhere" / "offers" / "a")) == set()


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[Path, Inbox]]:
    repo = tmp_path / "repo"
    (repo / "offers" / "contoso").mkdir(parents=True)
    (repo / ".git").mkdir()
    inbox = Inbox()
    watcher = OffersWatcher(repo, inbox, debounce=0.05)
    watcher.start()
    try:
        yield repo, inbox
    finally:
        watcher.stop()


def settle() -> None:
    time.sleep(0.3)  # inotify delivers within milliseconds; leave room on a loaded CI box


def test_editing_an_offer_queues_it_with_the_debounce(watched: tuple[Path, Inbox]) -> None:
    repo, inbox = watched
    (repo / "offers" / "contoso" / "offer.yaml").write_text("spec: {}\n")
    wait_until(lambda: "contoso" in inbox.seen(), timeout=5, what="watch event")
    assert all(source == "watch" and delay == 0.05 for _, source, delay in inbox.items)


def test_a_save_by_rename_queues_the_offer(watched: tuple[Path, Inbox]) -> None:
    repo, inbox = watched
    tmp = repo / "offers" / "contoso" / "offer.yaml.tmp123"
    tmp.write_text("spec: {}\n")
    tmp.replace(repo / "offers" / "contoso" / "offer.yaml")
    wait_until(lambda: "contoso" in inbox.seen(), timeout=5, what="rename event")


def test_status_writes_and_git_internals_trigger_nothing(watched: tuple[Path, Inbox]) -> None:
    repo, inbox = watched
    folder = repo / "offers" / "contoso"
    tmp = folder / ".status.yaml.abc123"
    tmp.write_text("phase: Live\n")
    tmp.replace(folder / "status.yaml")  # exactly how the status writer saves
    (folder / "status.yaml").write_text("phase: Live\n")
    (repo / ".git" / "index.lock").write_text("")
    (repo / "README.md").write_text("hello\n")
    settle()
    assert inbox.items == []


def test_codeowners_in_github_and_docs_folders_queue_every_offer(tmp_path: Path) -> None:
    """GitHub reads .github/CODEOWNERS and docs/CODEOWNERS too; an edit there changes who
    may sign off, so it must wake every offer, including when the folder appears later."""
    repo = tmp_path / "repo"
    (repo / ".github").mkdir(parents=True)
    inbox = Inbox()
    watcher = OffersWatcher(repo, inbox, debounce=0.0)
    watcher.start()
    try:
        (repo / ".github" / "CODEOWNERS").write_text("* @octocat\n")
        wait_until(lambda: ALL in inbox.seen(), timeout=5, what=".github/CODEOWNERS edit")
        settle()  # the write's later events (modify, close) land before the next step
        inbox.clear()
        (repo / ".github" / "dependabot.yml").write_text("version: 2\n")
        settle()
        assert inbox.seen() == set()  # other files there ask for nothing
        (repo / "docs").mkdir()  # appears after start: watched from then on
        wait_until(lambda: ALL in inbox.seen(), timeout=5, what="docs/ appearing")
        inbox.clear()
        tmp = repo / "docs" / "CODEOWNERS.tmp"
        tmp.write_text("* @hubot\n")
        tmp.replace(repo / "docs" / "CODEOWNERS")  # save by rename
        wait_until(lambda: ALL in inbox.seen(), timeout=5, what="docs/CODEOWNERS edit")
    finally:
        watcher.stop()


def test_a_new_offer_folder_is_queued(watched: tuple[Path, Inbox]) -> None:
    repo, inbox = watched
    (repo / "offers" / "fabrikam").mkdir()
    (repo / "offers" / "fabrikam" / "offer.yaml").write_text("spec: {}\n")
    wait_until(lambda: "fabrikam" in inbox.seen(), timeout=5, what="new folder")


def test_offers_created_after_start_are_watched(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    inbox = Inbox()
    watcher = OffersWatcher(repo, inbox, debounce=0.0)
    watcher.start()
    try:
        (repo / "offers").mkdir()
        wait_until(lambda: ALL in inbox.seen(), timeout=5, what="offers/ appearing")
        settle()
        (repo / "offers" / "late").mkdir()
        (repo / "offers" / "late" / "offer.yaml").write_text("x: 1\n")
        wait_until(lambda: "late" in inbox.seen(), timeout=5, what="event under new offers/")
    finally:
        watcher.stop()


def test_a_policy_change_asks_for_a_full_pass(watched: tuple[Path, Inbox]) -> None:
    repo, inbox = watched
    (repo / "publishing.yaml").write_text("requiredApprovals: 2\n")
    wait_until(lambda: ALL in inbox.seen(), timeout=5, what="policy event")


class TestRemotePoller:
    """The poller queues a full pass when the tip moves, and resyncs periodically anyway."""

    def test_a_moved_tip_queues_one_full_pass(self) -> None:
        tips = iter(["aaa", "aaa", "bbb", "bbb"])
        inbox = Inbox()
        poller = RemotePoller(
            inbox, interval=60, resync_every=600, probe=lambda: next(tips), stop=threading.Event()
        )
        poller.set_baseline()  # "aaa"
        assert poller.poll_once() is False
        assert poller.poll_once() is True
        assert poller.poll_once() is False
        assert inbox.items == [(frozenset({CHANGED}), "poll", 0.0)]

    def test_an_unreachable_remote_is_logged_not_fatal(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        def probe() -> str:
            raise TransientError("git ls-remote origin failed: Could not resolve host")

        inbox = Inbox()
        poller = RemotePoller(
            inbox, interval=60, resync_every=600, probe=probe, stop=threading.Event()
        )
        assert poller.poll_once() is False
        assert "cannot read the remote branch tip" in caplog.text
        assert inbox.items == []

    def test_without_a_remote_it_still_resyncs(self) -> None:
        inbox = Inbox()
        stop = threading.Event()
        poller = RemotePoller(inbox, interval=60, resync_every=0.05, probe=None, stop=stop)
        poller.start()
        try:
            wait_until(lambda: len(inbox.items) >= 2, timeout=5, what="two resyncs")
        finally:
            stop.set()
            poller.join(timeout=5)
        assert {source for _, source, _ in inbox.items} == {"resync"}


def test_ls_remote_reads_the_branch_tip(tmp_path: Path) -> None:
    def git(*args: str, cwd: Path = tmp_path) -> str:
        return subprocess.run(
            ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
        ).stdout.strip()

    git("init", "-q", "--bare", "-b", "main", "remote.git")
    git("init", "-q", "-b", "main", "work")
    work = tmp_path / "work"
    git("remote", "add", "origin", str(tmp_path / "remote.git"), cwd=work)
    git("commit", "-q", "--allow-empty", "-m", "one", cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    probe = ls_remote_probe(work, "origin", "main")
    assert probe() == git("rev-parse", "HEAD", cwd=work)
    assert ls_remote_probe(work, "origin", "gone")() == ""
    with pytest.raises(TransientError, match="git ls-remote nowhere failed"):
        ls_remote_probe(work, "nowhere", "main")()


@pytest.mark.parametrize("name", ["--upload-pack=touch /tmp/x", "-x", "a..b", "x.lock", "", "a b"])
def test_option_like_or_odd_names_are_refused(name: str) -> None:
    with pytest.raises(UsageError):
        check_ref_part("branch", name)


@pytest.mark.parametrize(
    ("rel", "keys"),
    [
        ("refs/heads/main", {CHANGED}),
        ("refs/heads/team/feature", {CHANGED}),
        ("refs/heads/main.lock", set()),
        ("HEAD", {CHANGED}),
        ("packed-refs", {CHANGED}),
        ("index", set()),
        ("index.lock", set()),
        ("offerctl/state/local_main.json", set()),
        ("objects/ab/cdef", set()),
    ],
)
def test_which_git_paths_mean_the_branch_may_have_moved(
    tmp_path: Path, rel: str, keys: set[str]
) -> None:
    assert keys_for_git_path(tmp_path, str(tmp_path / rel)) == keys


def test_a_commit_in_the_checkout_asks_for_a_pass(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run(
        ["git", "-C", str(repo), "commit", "-q", "--allow-empty", "-m", "one"], check=True
    )
    inbox = Inbox()
    watcher = OffersWatcher(repo, inbox, debounce=0.0, git_dir=repo / ".git")
    watcher.start()
    try:
        subprocess.run(
            ["git", "-C", str(repo), "commit", "-q", "--allow-empty", "-m", "two"], check=True
        )
        wait_until(lambda: CHANGED in inbox.seen(), timeout=5, what="ref event")
    finally:
        watcher.stop()


def test_a_branch_moved_from_the_main_worktree_wakes_a_linked_worktree(tmp_path: Path) -> None:
    """In a linked worktree the branch refs live in the common git dir, not in its own."""
    main = tmp_path / "main"
    linked = tmp_path / "linked"
    subprocess.run(["git", "init", "-q", "-b", "main", str(main)], check=True)
    for message in ("one", "two"):
        subprocess.run(
            ["git", "-C", str(main), "commit", "-q", "--allow-empty", "-m", message], check=True
        )
    subprocess.run(
        ["git", "-C", str(main), "worktree", "add", "-q", "-b", "watched", str(linked), "HEAD~1"],
        check=True,
    )
    git_dir = Path(
        subprocess.run(
            ["git", "-C", str(linked), "rev-parse", "--absolute-git-dir"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    inbox = Inbox()
    watcher = OffersWatcher(linked, inbox, debounce=0.0, git_dir=git_dir)
    watcher.start()
    try:
        time.sleep(0.2)  # let the observer settle before the ref moves
        subprocess.run(
            ["git", "-C", str(main), "update-ref", "refs/heads/watched", "main"], check=True
        )
        wait_until(lambda: CHANGED in inbox.seen(), timeout=5, what="ref event")
    finally:
        watcher.stop()
