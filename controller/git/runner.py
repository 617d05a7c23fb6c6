"""The one place offerctl starts git: a fixed argv, a clean environment, a deadline.

Every git process of the controller, the CLI and the demo starts here:

- **Environment allow-list**, the way pre-commit's `no_git_env` does it: the
  inherited environment minus every `GIT_*` variable except the few that say
  how to reach a remote or where the operator's own config lives
  (`KEPT_GIT_ENV`). An inherited `GIT_DIR`, `GIT_WORK_TREE`, `GIT_INDEX_FILE`,
  `GIT_OBJECT_DIRECTORY`, `GIT_CONFIG_PARAMETERS` ... never points git at
  another repository or smuggles settings in, so every reader and writer in
  one process answers from the same repository. On top: `LC_ALL=C` (git's
  words are parsed in places), no terminal prompt, literal pathspecs, and no
  optional locks (reading never takes index.lock behind the user's back).
- **A timeout on every call** (`LOCAL_TIMEOUT`, `REMOTE_TIMEOUT` for fetch,
  push and ls-remote); a git that outlives it is killed and `GitTimeout`
  (transient) raised. Long-lived `--batch` processes are the exception: they
  are fed one request at a time by their owner and closed with it.
- **A protocol allow-list on every remote operation** (`remote=True`):
  `GIT_ALLOW_PROTOCOL`, `GIT_PROTOCOL_FROM_USER=0` and `protocol.allow=never`
  with only the allowed ones switched back on. The default is
  `file:https:ssh`; the operator widens or narrows it with
  `OFFERCTL_GIT_PROTOCOLS` (colon-separated). `ext::` and `fd::` never pass.
- **One error mapping**: a failed command is `GitFailed` (exit status, git's
  stdout and stderr kept for callers that read them; the message is git's
  first lines with credentials redacted); git missing is a `FatalError`.

Processes are started with `subprocess` here rather than through GitPython's
`Git.execute`, which always lays the whole inherited environment under the
one it is given and so cannot drop a variable; GitPython still names the
git executable (`GIT_PYTHON_GIT_EXECUTABLE`, its `refresh()`).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import git as gitpython

from controller.core.errors import FatalError, TransientError
from controller.git.exchange import Expired, exchange
from controller.git.names import redact

LOCAL_TIMEOUT = 120.0  # seconds for a command that only touches the local repository
REMOTE_TIMEOUT = 300.0  # seconds for fetch, push and ls-remote
DEFAULT_PROTOCOLS = ("file", "https", "ssh")
PROTOCOLS_VARIABLE = "OFFERCTL_GIT_PROTOCOLS"
_KNOWN_PROTOCOLS = frozenset({"file", "git", "http", "https", "ssh"})

# Inherited GIT_* variables that are kept: how to reach a remote, the operator's
# own (global/system) config and identity. Everything else GIT_* is dropped.
KEPT_GIT_ENV = frozenset(
    {
        "GIT_EXEC_PATH",
        "GIT_SSH",
        "GIT_SSH_COMMAND",
        "GIT_SSH_VARIANT",
        "GIT_SSL_CAINFO",
        "GIT_SSL_NO_VERIFY",
        "GIT_HTTP_PROXY_AUTHMETHOD",
        "GIT_ASKPASS",
        "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_SYSTEM",
        "GIT_CONFIG_NOSYSTEM",
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_AUTHOR_DATE",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "GIT_COMMITTER_DATE",
    }
)

FIXED_ENV: Mapping[str, str] = {
    "LC_ALL": "C",  # git's messages are parsed in a few places; keep them English
    "LANGUAGE": "C",
    "GIT_TERMINAL_PROMPT": "0",  # a daemon must fail, not wait for a password
    "GIT_LITERAL_PATHSPECS": "1",  # paths are paths, never pathspec magic
    "GIT_OPTIONAL_LOCKS": "0",  # reading never takes index.lock behind the user's back
}


class GitFailed(FatalError):
    """A git command exited non-zero. `status`, `stdout` and `stderr` are git's own."""

    def __init__(self, message: str, *, status: int, stdout: bytes, stderr: bytes) -> None:
        super().__init__(message)
        self.status = status
        self.stdout = stdout
        self.stderr = stderr


class GitTimeout(TransientError):
    """A git command ran past its deadline and was killed."""


@dataclass(frozen=True, slots=True)
class GitResult:
    status: int
    stdout: bytes
    stderr: bytes

    @property
    def text(self) -> str:
        """stdout as text (surrogate-escaped where it is not UTF-8)."""
        return self.stdout.decode("utf-8", "surrogateescape")


def clean_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (default: this process's environment) without the GIT_* variables git
    would obey to look elsewhere, plus the fixed settings."""
    source = os.environ if base is None else base
    kept = {k: v for k, v in source.items() if not k.startswith("GIT_") or k in KEPT_GIT_ENV}
    return {**kept, **FIXED_ENV}


def allowed_protocols(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The transports a remote operation may use: the operator's list or the default."""
    raw = (os.environ if environ is None else environ).get(PROTOCOLS_VARIABLE, "")
    if not raw.strip():
        return DEFAULT_PROTOCOLS
    names = tuple(dict.fromkeys(p.strip() for p in raw.split(":") if p.strip()))
    unknown = sorted(set(names) - _KNOWN_PROTOCOLS)
    if unknown:
        raise FatalError(
            f"{PROTOCOLS_VARIABLE}: unknown protocol(s) {', '.join(unknown)}; "
            f"choose from {', '.join(sorted(_KNOWN_PROTOCOLS))}"
        )
    return names


def remote_settings(protocols: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """The `-c` options and environment that confine a remote operation to `protocols`."""
    config = ["-c", "protocol.allow=never"]
    for name in protocols:
        config += ["-c", f"protocol.{name}.allow=always"]
    env = {"GIT_ALLOW_PROTOCOL": ":".join(protocols), "GIT_PROTOCOL_FROM_USER": "0"}
    return config, env


def git_executable() -> str:
    """The git binary, as GitPython resolved it (GIT_PYTHON_GIT_EXECUTABLE or `git`)."""
    return str(gitpython.Git.GIT_PYTHON_GIT_EXECUTABLE or "git")


def describe_failure(verb: str, status: int, stderr: bytes) -> str:
    """`git <verb> failed: <git's first lines>`, credentials redacted."""
    text = stderr.decode("utf-8", "replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    detail = redact("; ".join(lines[:3])) or f"exit status {status}"
    return f"git {verb} failed: {detail}"


class GitRunner:
    """Runs git in one repository: `-C <path>` (a working tree or bare repo) or
    `--git-dir <dir>`."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        git_dir: str | os.PathLike[str] | None = None,
        timeout: float = LOCAL_TIMEOUT,
        base_env: Mapping[str, str] | None = None,
    ) -> None:
        """`base_env` replaces this process's environment as the one cleaned for git
        (the demo's pinned scratch environment); the allow-list applies to it all the same."""
        if (path is None) == (git_dir is None):
            raise ValueError("give exactly one of path and git_dir")
        self.location: list[str] = (
            ["-C", os.fspath(path)] if path is not None else ["--git-dir", os.fspath(git_dir or "")]
        )
        self.path = Path(path) if path is not None else None
        self.timeout = timeout
        self.base_env = dict(base_env) if base_env is not None else None

    def argv(self, args: Sequence[str], config: Sequence[str] = ()) -> list[str]:
        return [git_executable(), *self.location, *config, *args]

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {**clean_env(self.base_env), **(extra or {})}

    def run(
        self,
        args: Sequence[str],
        *,
        stdin: bytes | bytearray | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        timeout: float | None = None,
        remote: bool = False,
        config: Sequence[tuple[str, str]] = (),
    ) -> GitResult:
        """`git <args>`; GitFailed (when `check`) on a non-zero exit, GitTimeout past the
        deadline. `remote` confines the transport to the allowed protocols."""
        options: list[str] = []
        for key, value in config:
            options += ["-c", f"{key}={value}"]
        extra = dict(env or {})
        if remote:
            remote_config, remote_env = remote_settings(allowed_protocols(self.base_env))
            options += remote_config
            extra.update(remote_env)
        limit = timeout if timeout is not None else (REMOTE_TIMEOUT if remote else self.timeout)
        deadline = time.monotonic() + limit
        try:
            proc = subprocess.Popen(
                self.argv(args, options),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self.env(extra),
            )
        except FileNotFoundError:
            raise FatalError("git is not installed or not on PATH") from None
        try:
            # Not `subprocess.run`: its wait for the exit polls with sleeps (`exchange`).
            out, err = exchange(proc, stdin if stdin is not None else b"", deadline)
        except Expired:
            raise GitTimeout(
                f"git {args[0]} took longer than {limit:.0f} s and was stopped", retry_after=30
            ) from None
        status = proc.returncode
        result = GitResult(status, out, err)
        if check and status != 0:
            raise GitFailed(
                describe_failure(args[0], status, err), status=status, stdout=out, stderr=err
            )
        return result

    def out(
        self, *args: str, stdin: bytes | None = None, env: Mapping[str, str] | None = None
    ) -> str:
        """stdout of a command that must succeed, stripped."""
        return self.run(args, stdin=stdin, env=env).text.strip()

    def start(
        self, args: Sequence[str], *, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """A long-lived git with pipes on stdin and stdout (`cat-file --batch`,
        `mktree --batch`); its owner feeds it and closes it (`stop`)."""
        try:
            return subprocess.Popen(
                self.argv(args),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=self.env(env),
            )
        except FileNotFoundError:
            raise FatalError("git is not installed or not on PATH") from None


def stop(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """Close a `start`ed process's stdin and wait for it (killed past `timeout`)."""
    if proc is None:
        return
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        with contextlib.suppress(OSError):
            proc.stdout.close()


def pipes(proc: subprocess.Popen[bytes]) -> tuple[IO[bytes], IO[bytes]]:
    """A `start`ed process's stdin and stdout."""
    if proc.stdin is None or proc.stdout is None:
        raise FatalError("git was started without pipes")
    return proc.stdin, proc.stdout
