"""Remotes: fetch one branch, push without force, read a remote branch's tip.

Each call names a configured remote (never a URL from input), passes
user-derived values after `--end-of-options`, and runs with the runner's
protocol allow-list and remote timeout. Failures are told apart for the
caller: a rejected push (someone pushed first) from a refusal (hook,
protected branch) from an unreachable remote.
"""

from __future__ import annotations

from controller.core.errors import TransientError, UsageError, UserError
from controller.failpoint import BEFORE_PUSH, failpoint
from controller.git.names import check_branch_name, check_oid, check_remote_name, redact
from controller.git.runner import GitFailed, GitRunner


class PushRejected(Exception):
    """The remote refused a fast-forward-only push: someone pushed first. Fetch and rebuild."""


def tracking_ref(remote: str, branch: str) -> str:
    return f"refs/remotes/{check_remote_name(remote)}/{check_branch_name(branch)}"


def check_configured(runner: GitRunner, remote: str) -> None:
    """UsageError unless `remote` is a configured remote's name."""
    check_remote_name(remote)
    if remote not in runner.run(["remote"]).text.split():
        raise UsageError(f"no remote named {remote!r} in this repository")


def fetch(runner: GitRunner, remote: str, branch: str) -> None:
    """Fetch `branch` from `remote` into its tracking ref; UserError if the branch does not
    exist there, TransientError if the remote cannot be reached."""
    check_configured(runner, remote)
    refspec = f"+refs/heads/{check_branch_name(branch)}:{tracking_ref(remote, branch)}"
    try:
        runner.run(
            [
                "fetch", "--quiet", "--no-tags", "--no-recurse-submodules",
                "--no-write-fetch-head", "--end-of-options", remote, refspec,
            ],
            remote=True,
        )  # fmt: skip
    except GitFailed as exc:
        message = str(exc).removeprefix("git fetch failed: ")
        if "couldn't find remote ref" in message:
            raise UserError(
                f"branch {branch!r} does not exist on remote {remote!r}; nothing was changed"
            ) from None
        raise TransientError(
            f"could not fetch {branch!r} from {remote!r}: {message}", retry_after=30
        ) from None


def push(runner: GitRunner, remote: str, commit: str, branch: str) -> None:
    """Push `commit` to `remote`'s `branch` as a fast-forward; never forced.

    PushRejected when the branch moved on the remote (fetch, rebuild, retry);
    UserError when the remote refuses for another reason (protected branch,
    hook); TransientError when it cannot be reached.
    """
    check_configured(runner, remote)
    refspec = f"{check_oid(commit)}:refs/heads/{check_branch_name(branch)}"
    failpoint(BEFORE_PUSH)
    try:
        runner.run(
            ["push", "--porcelain", "--quiet", "--end-of-options", remote, refspec], remote=True
        )
    except GitFailed as exc:
        out = f"{exc.stdout.decode('utf-8', 'replace')}\n{exc.stderr.decode('utf-8', 'replace')}"
        if "[remote rejected]" in out:
            reason = _bracket_reason(out, "[remote rejected]")
            raise UserError(
                f"{remote} refused the status commit on {branch!r}: {redact(reason)}"
            ) from None
        if "[rejected]" in out or "non-fast-forward" in out or "fetch first" in out:
            raise PushRejected(f"{remote}/{branch} moved since it was fetched") from None
        message = str(exc).removeprefix("git push failed: ")
        raise TransientError(f"could not push to {remote!r}: {message}", retry_after=30) from None


def remote_tip(runner: GitRunner, remote: str, branch: str, *, timeout: float | None = None) -> str:
    """`refs/heads/<branch>` on `remote` as `git ls-remote` reads it ("" when absent);
    TransientError when the remote cannot be read."""
    check_remote_name(remote)
    ref = f"refs/heads/{check_branch_name(branch)}"
    try:
        out = runner.run(
            ["ls-remote", "--end-of-options", remote, ref], remote=True, timeout=timeout
        ).text
    except GitFailed as exc:
        first = (exc.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"])[0]
        raise TransientError(f"git ls-remote {remote} failed: {redact(first)}") from None
    for line in out.splitlines():
        sha, _, name = line.partition("\t")
        if name == ref:
            return sha
    return ""


def _bracket_reason(out: str, marker: str) -> str:
    for line in out.splitlines():
        if marker in line:
            return line.split(marker, 1)[1].strip(" ()") or "no reason given"
    return "no reason given"
