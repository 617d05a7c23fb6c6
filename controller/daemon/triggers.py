"""What makes work due: file changes in the checkout, and the remote branch moving.

- `OffersWatcher`: a watchdog observer on `offers/` (recursive), the repo
  root (for publishing.yaml, CODEOWNERS and `offers/` itself appearing), and
  `.github/` and `docs/` (for the CODEOWNERS files GitHub reads there; each is
  watched from when it appears). The paths come from `controller.repo.layout`.
  A change under `offers/<id>/` makes `<id>` due after a short debounce, so
  an editor's save-by-rename or a `git pull` touching many files lands in
  one pass. Events from status files (`status.yaml` and any temp file whose
  name contains it) are dropped: the controller's own status writes never
  trigger a pass. With `git_dir`, it also watches the branch refs (`HEAD`,
  `packed-refs`, `refs/heads/`): a commit asks for `CHANGED`, which the
  daemon skips when the tip is the one its own last pass left.
- `RemotePoller`: every `interval` seconds asks the remote for the branch tip
  (`git ls-remote`, which reads nothing locally and takes no lock) and asks
  for a pass (`CHANGED`) when it moved; and every `resync_every` seconds asks for a
  full pass regardless, so missed events or webhooks still converge (a callable
  `resync_every` is asked each time: the daemon's period follows its pass duration).

Both only call `enqueue(keys, source, delay)`; the daemon owns the queue.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from controller.core.errors import FatalError, TransientError, UsageError
from controller.daemon.workqueue import ALL, CHANGED
from controller.git.names import check_branch_name, check_remote_name
from controller.git.remote import remote_tip
from controller.git.runner import GitRunner
from controller.repo import layout

log = logging.getLogger(__name__)

Enqueue = Callable[[Iterable[str], str, float], None]  # keys, source, delay in seconds
Probe = Callable[[], str]  # the remote branch tip ("" if the branch is gone); raises if unreachable

OFFERS_DIR = layout.OFFERS_DIR
REPO_WIDE_FILES = frozenset(layout.POLICY_PATHS)
# Folders (other than the root) that may hold a repository-wide file: .github, docs.
_POLICY_DIRS = frozenset(p.rpartition("/")[0] for p in layout.POLICY_PATHS if "/" in p)
# Event kinds that change nothing on disk.
_QUIET_EVENTS = frozenset({"opened", "closed_no_write"})
_EDITOR_NOISE = re.compile(r"(\.sw[a-p]x?|~|\.#.*|4913)$")  # vim/emacs scratch files


def keys_for_path(repo: Path, path: str) -> set[str]:
    """The queue keys a change at `path` (absolute) asks for; empty when it asks for nothing."""
    try:
        rel = Path(path).relative_to(repo)
    except ValueError:
        return set()
    parts = rel.parts
    if not parts or parts[0] == ".git":
        return set()
    name = parts[-1]
    if layout.STATUS_FILE in name or _EDITOR_NOISE.search(name):
        return set()
    if parts[0] == OFFERS_DIR:
        if len(parts) == 1:
            return {ALL}  # offers/ itself created, removed or renamed
        return {ALL if parts[1] == ALL else parts[1]}
    if layout.is_policy_path(rel.as_posix()):
        return {ALL}  # policy or ownership changed: every offer may be affected
    return set()


def keys_for_git_path(git_dir: Path, path: str) -> set[str]:
    """`{CHANGED}` when `path` is a branch ref (or HEAD, packed-refs) under `git_dir`."""
    try:
        rel = Path(path).relative_to(git_dir).as_posix()
    except ValueError:
        return set()
    if rel in ("HEAD", "packed-refs") or (
        rel.startswith("refs/heads/") and not rel.endswith(".lock")
    ):
        return {CHANGED}
    return set()


def ref_dirs(git_dir: Path) -> tuple[Path, ...]:
    """Where the checkout's HEAD and branch refs live: its git dir, and for a linked
    worktree also the common dir (named by the `commondir` file git keeps there)."""
    dirs = [git_dir]
    try:
        common = (git_dir / (git_dir / "commondir").read_text(encoding="utf-8").strip()).resolve()
    except (OSError, UnicodeDecodeError):
        return tuple(dirs)
    if common != git_dir and common.is_dir():
        dirs.append(common)
    return tuple(dirs)


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: OffersWatcher) -> None:
        self._watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in _QUIET_EVENTS:
            return
        if event.is_directory and event.event_type == "modified":
            return  # a parent's mtime changed; the child's own event says what happened
        self._watcher.changed(event)


class OffersWatcher:
    """Watches the checkout's offers for changes; `start()`/`stop()`."""

    def __init__(
        self, repo: Path, enqueue: Enqueue, debounce: float = 0.2, git_dir: Path | None = None
    ) -> None:
        self._repo = repo.resolve()
        self._git_dirs = ref_dirs(git_dir.resolve()) if git_dir is not None else ()
        self._enqueue = enqueue
        self._debounce = debounce
        self._observer = Observer()
        self._handler = _Handler(self)
        self._offers_watched = False
        self._policy_dirs_watched: set[str] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        self._observer.schedule(self._handler, str(self._repo), recursive=False)
        self._watch_offers()
        self._watch_policy_dirs()
        for git_dir in self._git_dirs:
            self._observer.schedule(self._handler, str(git_dir), recursive=False)
            heads = git_dir / "refs" / "heads"
            if heads.is_dir():
                self._observer.schedule(self._handler, str(heads), recursive=True)
        self._observer.start()

    def stop(self) -> None:
        self._observer.stop()
        if self._observer.is_alive():
            self._observer.join(timeout=5)

    def changed(self, event: FileSystemEvent) -> None:
        keys: set[str] = set()
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if raw:
                path = os.fsdecode(raw)
                keys |= keys_for_path(self._repo, path)
                for git_dir in self._git_dirs:
                    keys |= keys_for_git_path(git_dir, path)
                if path == str(self._repo / OFFERS_DIR) and event.event_type != "deleted":
                    self._watch_offers()
                if path in {str(self._repo / d) for d in _POLICY_DIRS}:
                    # .github/ or docs/ appeared, went or was renamed: a CODEOWNERS in it
                    # came or went with it
                    keys.add(ALL)
                    if event.event_type != "deleted":
                        self._watch_policy_dirs()
        if keys:
            self._enqueue(keys, "watch", self._debounce)

    def _watch_policy_dirs(self) -> None:
        with self._lock:
            for name in sorted(_POLICY_DIRS - self._policy_dirs_watched):
                folder = self._repo / name
                if folder.is_dir() and not folder.is_symlink():
                    self._observer.schedule(self._handler, str(folder), recursive=False)
                    self._policy_dirs_watched.add(name)

    def _watch_offers(self) -> None:
        offers = self._repo / OFFERS_DIR
        with self._lock:
            if self._offers_watched or not offers.is_dir():
                return
            self._observer.schedule(self._handler, str(offers), recursive=True)
            self._offers_watched = True


class RemotePoller:
    """A thread that polls the remote tip every `interval` and resyncs every `resync_every`."""

    def __init__(
        self,
        enqueue: Enqueue,
        *,
        interval: float,
        resync_every: float | Callable[[], float],
        probe: Probe | None,
        stop: threading.Event,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._enqueue = enqueue
        self._resync_every = resync_every if callable(resync_every) else lambda: resync_every
        first = self._resync_every()
        self._interval = interval if probe is not None else min(interval, first)
        self._probe = probe
        self._stop = stop
        self._monotonic = monotonic
        self._last_tip: str | None = None
        self._thread = threading.Thread(target=self._run, name="offerctl-poller", daemon=True)

    def start(self) -> None:
        self.set_baseline()
        self._thread.start()

    def set_baseline(self) -> None:
        """Remember the current tip without queueing: the daemon's first pass is full anyway.

        If the remote cannot be read now, the first tip read later counts as a move.
        """
        if self._probe is not None:
            self._last_tip = self._safe_probe()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def poll_once(self) -> bool:
        """Probe the remote once; True (and an incremental pass queued) if the tip moved."""
        if self._probe is None:
            return False
        tip = self._safe_probe()
        if tip is None or tip == self._last_tip:
            return False
        self._last_tip = tip
        self._enqueue((CHANGED,), "poll", 0.0)
        return True

    def _run(self) -> None:
        last_resync = self._monotonic()
        while not self._stop.wait(self._interval):
            if self.poll_once():
                last_resync = self._monotonic()
            elif self._monotonic() - last_resync >= self._resync_every():
                self._enqueue((ALL,), "resync", 0.0)
                last_resync = self._monotonic()

    def _safe_probe(self) -> str | None:
        if self._probe is None:
            return None
        try:
            return self._probe()
        except (TransientError, FatalError, OSError) as exc:
            log.warning("cannot read the remote branch tip: %s", exc)
            return None


def check_ref_part(kind: str, value: str) -> str:
    """Reject remote/branch names git could read as options or paths outside refs/
    (the rules of `controller.git.names`)."""
    try:
        if kind == "remote":
            check_remote_name(value)
        else:
            check_branch_name(value)
    except UsageError:
        raise UsageError(f"--{kind} {value!r} is not a plain git {kind} name") from None
    return value


def ls_remote_probe(repo: Path, remote: str, branch: str, timeout: float = 30.0) -> Probe:
    """A probe reading `refs/heads/<branch>` of `remote` with `git ls-remote`, through the
    one git runner (clean environment, protocol allow-list, `timeout`)."""
    check_ref_part("remote", remote)
    check_ref_part("branch", branch)
    runner = GitRunner(repo)

    def probe() -> str:
        return remote_tip(runner, remote, branch, timeout=timeout)

    return probe
