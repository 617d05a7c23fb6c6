"""Where the shard map lives: `refs/offerctl/shards/<branch>`, changed only by compare-and-swap.

The map (`shardmap`) is the message of a commit with an empty tree; each new
map is a child of the one it replaces. Without a remote, the ref is in the
repository itself and moves by `git update-ref NEW OLD`; with one, it lives on
the remote next to the watched branch, is fetched before every read and
pushed without force, so a push that does not fast-forward from the map it
was based on is refused: another shard got there first, and the caller reads
again. Either way two shards can never both replace the same map.

`ShardFence` is what the daemon holds: `check()` before each pass, `release()`
once it stops.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from controller.core.errors import FatalError, TransientError
from controller.daemon import shardmap
from controller.daemon.shard import Shard
from controller.daemon.shardmap import ShardMap, Step
from controller.git.names import check_branch_name, check_oid, check_remote_name
from controller.git.runner import GitRunner

log = logging.getLogger(__name__)

REF_ROOT = "refs/offerctl/shards"
SEEN_ROOT = "refs/offerctl/shards-seen"  # the last map fetched from a remote
CAS_TRIES = 5  # reads and writes per check when other shards keep moving the map
_IDENTITY = {
    "GIT_AUTHOR_NAME": "offerctl",
    "GIT_AUTHOR_EMAIL": "offerctl@localhost",
    "GIT_COMMITTER_NAME": "offerctl",
    "GIT_COMMITTER_EMAIL": "offerctl@localhost",
}


class MapMoved(Exception):
    """The map changed since it was read; read it again."""


@dataclass
class ShardMapRef:
    """The shard map of `branch` in the repository at `repo` (on `remote` when given)."""

    repo: Path
    branch: str
    remote: str | None = None

    def __post_init__(self) -> None:
        check_branch_name(self.branch)
        if self.remote is not None:
            check_remote_name(self.remote)

    @property
    def ref(self) -> str:
        return f"{REF_ROOT}/{self.branch}"

    @property
    def where(self) -> str:
        return f"{self.remote}:{self.ref}" if self.remote else self.ref

    def read(self) -> tuple[ShardMap | None, str | None]:
        """The map and the commit holding it; (None, None) when none was recorded."""
        local = self.ref
        if self.remote is not None:
            local = f"{SEEN_ROOT}/{self.remote}/{self.branch}"
            fetched = self._git(
                "fetch", "--quiet", "--no-tags", "--no-recurse-submodules",
                "--no-write-fetch-head", "--end-of-options", self.remote, f"+{self.ref}:{local}",
                check=False,
            )  # fmt: skip
            if fetched.returncode != 0:
                if "couldn't find remote ref" not in fetched.stderr:
                    raise TransientError(
                        f"could not read the shard map {self.where}: {fetched.stderr.strip()}",
                        retry_after=30,
                    )
                self._git("update-ref", "-d", local, check=False)
                return None, None
        found = self._git("rev-parse", "--verify", "--quiet", f"{local}^{{commit}}", check=False)
        oid = found.stdout.strip()
        if found.returncode != 0 or not oid:
            return None, None
        body = self._git("cat-file", "commit", check_oid(oid)).stdout
        message = body.split("\n\n", 1)[1] if "\n\n" in body else ""
        return shardmap.loads(message, self.where), oid

    def write(self, value: ShardMap, based_on: str | None) -> str:
        """Record `value` in place of the map in `based_on`; MapMoved if it changed."""
        empty = self._git("hash-object", "-t", "tree", "-w", "--stdin", stdin="").stdout.strip()
        parents = ["-p", check_oid(based_on)] if based_on else []
        commit = self._git(
            "commit-tree", check_oid(empty), *parents, "-m", shardmap.dumps(value),
            env=_IDENTITY,
        ).stdout.strip()  # fmt: skip
        if self.remote is None:
            old = based_on or "0" * len(commit)
            moved = self._git("update-ref", self.ref, commit, old, check=False)
            if moved.returncode != 0:
                raise MapMoved(moved.stderr.strip())
            return commit
        pushed = self._git(
            "push", "--porcelain", "--quiet", "--end-of-options", self.remote,
            f"{commit}:{self.ref}", check=False,
        )  # fmt: skip
        if pushed.returncode == 0:
            return commit
        said = f"{pushed.stdout}\n{pushed.stderr}"
        if "[rejected]" in said or "non-fast-forward" in said or "fetch first" in said:
            raise MapMoved(said.strip())
        raise TransientError(
            f"could not record the shard map {self.where}: {pushed.stderr.strip()}",
            retry_after=30,
        )

    def _git(
        self,
        *args: str,
        check: bool = True,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
    ) -> _Done:
        """git through the one runner (fetch and push with its protocol allow-list)."""
        done = GitRunner(self.repo).run(
            args,
            stdin=None if stdin is None else stdin.encode("utf-8"),
            env=env,
            check=False,
            remote=args[0] in {"fetch", "push"},
        )
        text = _Done(
            done.status,
            done.stdout.decode("utf-8", "replace"),
            done.stderr.decode("utf-8", "replace"),
        )
        if check and text.returncode != 0:
            raise FatalError(f"git {args[0]} failed on the shard map: {text.stderr.strip()}")
        return text


@dataclass(frozen=True, slots=True)
class _Done:
    returncode: int
    stdout: str
    stderr: str


class ShardFence:
    """Shard `shard`'s side of the map: may this daemon run a pass now?"""

    def __init__(self, ref: ShardMapRef, shard: Shard) -> None:
        self.ref = ref
        self.shard = shard
        self._said = ""

    def check(self) -> Step:
        """Read the map, record what `decide` asks for, and say whether to act."""
        for _ in range(CAS_TRIES):
            current, oid = self.ref.read()
            step = shardmap.decide(current, self.shard)
            if step.write is not None:
                try:
                    self.ref.write(step.write, oid)
                except MapMoved:
                    continue
            if step.reason and step.reason != self._said:
                log.log(
                    logging.INFO if step.act else logging.WARNING,
                    "shard %s: %s",
                    self.shard,
                    step.reason,
                )
            self._said = step.reason
            return step
        raise TransientError(f"the shard map {self.ref.where} kept moving", retry_after=1.0)

    def release(self) -> None:
        """Record that this shard has stopped, so a handover need not wait for it."""
        for _ in range(CAS_TRIES):
            current, oid = self.ref.read()
            update = shardmap.on_exit(current, self.shard)
            if update is None:
                return
            try:
                self.ref.write(update, oid)
            except MapMoved:
                continue
            log.info("shard %s: recorded as stopped in %s", self.shard, self.ref.where)
            return
