"""The scratch directory: a bare origin, the publisher's clone, the daemon's checkout, and
the pinned environment every child process gets (the user's git settings are never read)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import controller
from controller.demo.common import (
    APPROVER,
    BRANCH,
    DROPPED_ENV,
    PUBLISHER,
    PUBLISHING_YAML,
    SIGNERS_FILE,
    DemoError,
)
from controller.git.runner import GitResult, GitRunner
from controller.repo import layout

# git verbs that reach a remote (the scratch origin): run with the protocol allow-list.
_REMOTE_VERBS = frozenset({"clone", "fetch", "push", "pull", "ls-remote"})


@dataclass(frozen=True, slots=True)
class Scratch:
    """The scratch directory's layout and the pinned environment every child process gets."""

    root: Path
    env: Mapping[str, str] = field(init=False)

    def __post_init__(self) -> None:
        home = self.root / "home"
        home.mkdir(exist_ok=True)
        config = home / ".gitconfig"
        config.write_text(
            "[init]\n\tdefaultBranch = main\n"
            "[commit]\n\tgpgSign = false\n"
            "[gc]\n\tauto = 0\n"
            "[advice]\n\tdetachedHead = false\n",
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
        package_root = str(Path(controller.__file__).parent.parent)
        env.update({
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "GIT_CONFIG_GLOBAL": str(config),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            # The daemon and `offerctl signoff` run from the same package as this demo.
            "PYTHONPATH": os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")])),
        })  # fmt: skip
        env.update(identity(PUBLISHER))
        object.__setattr__(self, "env", env)

    @property
    def origin(self) -> Path:
        return self.root / "origin.git"

    @property
    def publisher(self) -> Path:
        return self.root / "publisher"

    @property
    def checkout(self) -> Path:
        return self.root / "controller"

    @property
    def daemon_log(self) -> Path:
        return self.root / "daemon.log"

    def git(
        self, cwd: Path, *args: str, who: tuple[str, str] = PUBLISHER, check: bool = True
    ) -> GitResult:
        """`git <args>` in `cwd` through the one runner, with the scratch environment."""
        runner = GitRunner(cwd, base_env={**self.env, **identity(who)})
        verb = next((a for a in args if not a.startswith("-") and "=" not in a), args[0])
        proc = runner.run(args, check=False, remote=verb in _REMOTE_VERBS)
        if check and proc.status != 0:
            detail = proc.stderr.decode("utf-8", "replace").strip()
            raise DemoError(f"git {args[0]} in {cwd.name} failed: {detail}")
        return proc

    def seed(self, offers: Path) -> None:
        """origin.git with one commit (the example offers and publishing.yaml) and two clones."""
        self.git(self.root, "init", "-q", "--bare", "-b", BRANCH, str(self.origin))
        self.git(self.root, "clone", "-q", str(self.origin), str(self.publisher))
        for folder in sorted(offers.iterdir()):
            if (folder / layout.MANIFEST_FILE).is_file():
                shutil.copytree(
                    folder,
                    self.publisher / layout.offer_dir(folder.name),
                    ignore=shutil.ignore_patterns(layout.STATUS_FILE, layout.SIGNOFF_FILE),
                )
        (self.publisher / layout.POLICY_FILE).write_text(PUBLISHING_YAML, encoding="utf-8")
        signers = self.publisher / SIGNERS_FILE
        signers.parent.mkdir(parents=True, exist_ok=True)
        signers.write_text(self.make_keys(), encoding="utf-8")
        self.git(self.publisher, "add", "-A")
        self.git(self.publisher, "commit", "-q", "-m", "Add the example offers")
        self.git(self.publisher, "push", "-q", "origin", f"HEAD:{BRANCH}")
        self.git(self.root, "clone", "-q", str(self.origin), str(self.checkout))

    def key(self, who: tuple[str, str]) -> Path:
        """The private ssh key the demo generated for `who`."""
        return self.root / "keys" / who[1].partition("@")[0]

    def signing(self, who: tuple[str, str]) -> tuple[str, ...]:
        """git options that make the next commit signed with `who`'s ssh key."""
        return ("-c", "gpg.format=ssh", "-c", f"user.signingKey={self.key(who)}")

    def make_keys(self) -> str:
        """An ssh signing key each for the publisher and the approver; the allowed signers."""
        if shutil.which("ssh-keygen") is None:
            raise DemoError("ssh-keygen is needed to make the demo's signing keys; install openssh")
        (self.root / "keys").mkdir(mode=0o700, exist_ok=True)
        lines = []
        for who in (PUBLISHER, APPROVER):
            key = self.key(who)
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", who[1], "-f", str(key)],
                check=True, capture_output=True, env=dict(self.env),
            )  # fmt: skip
            kind, blob = key.with_suffix(".pub").read_text(encoding="utf-8").split()[:2]
            lines.append(f"{who[1]} {kind} {blob}\n")
        return "".join(lines)

    def publisher_env(self) -> dict[str, str]:
        """The environment for the publisher's `offerctl signoff`: commits signed by her key."""
        config = self.root / "home" / "publisher.gitconfig"
        config.write_text(
            (self.root / "home" / ".gitconfig").read_text(encoding="utf-8")
            + f"[commit]\n\tgpgSign = true\n[gpg]\n\tformat = ssh\n"
            f"[user]\n\tsigningKey = {self.key(PUBLISHER)}\n",
            encoding="utf-8",
        )
        return {**self.env, "GIT_CONFIG_GLOBAL": str(config)}

    def catch_up(self) -> None:
        """The publisher's clone at origin's tip (it never has work of its own left over)."""
        self.git(self.publisher, "fetch", "-q", "origin")
        self.git(self.publisher, "reset", "-q", "--hard", f"origin/{BRANCH}")


def identity(who: tuple[str, str]) -> dict[str, str]:
    name, email = who
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }


def first_parent_commits(scratch: Scratch, old: str, new: str) -> Sequence[str]:
    """The commits from `old` (exclusive) to `new`, oldest first, along the branch's line."""
    span = f"{old}..{new}" if old else new
    out = scratch.git(
        scratch.origin, "rev-list", "--first-parent", "--reverse", "--end-of-options", span
    ).text
    return out.split()
