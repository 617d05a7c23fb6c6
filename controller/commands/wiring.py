"""Turning the shared command-line options into the objects a pass needs.

`reconcile`, `run` and `plan` all read the watched branch from `--remote` /
`--branch`, open the marketplace the operator named (flags, environment;
`publishing.yaml` may only set the simulated marketplace's time scale) and
judge sign-offs with the GitHub and Azure DevOps endpoints the operator named. Nothing read
from the repository chooses where a credential is sent.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from controller.commands.options import marketplace_from_args
from controller.core.errors import UsageError, UserError
from controller.files.yamlio import load_mapping
from controller.git import history as githistory
from controller.git.history import GitHistoryError
from controller.git.repo import GitRepo, check_branch_name, check_remote_name
from controller.marketplace.api import Marketplace
from controller.reconcile.reconciler import (
    JudgeSignOff,
    Watch,
    default_judge,
    policy_at,
)
from controller.repo.policy import POLICY_FILE, parse_policy
from controller.signoff.operator import azure_devops_endpoint, github_endpoint

_POLICY_MAX_BYTES = 1024 * 1024


def watch_from_args(args: argparse.Namespace) -> Watch:
    """The branch a pass reads: `--remote` needs `--branch`; both names are checked."""
    if args.remote and not args.branch:
        raise UsageError("--remote needs --branch: name the remote branch to reconcile")
    if args.branch:
        check_branch_name(args.branch)
    if args.remote:
        check_remote_name(args.remote)
    return Watch(branch=args.branch, remote=args.remote)


def known_tip(repo: GitRepo, watch: Watch) -> str | None:
    """The watched branch's tip as this checkout last saw it (no fetch)."""
    if watch.remote and watch.branch:
        return repo.resolve(repo.tracking_ref(watch.remote, watch.branch))
    return repo.resolve(f"refs/heads/{watch.branch}" if watch.branch else "HEAD")


def marketplace_at(args: argparse.Namespace, repo: GitRepo, commit: str | None) -> Marketplace:
    """The marketplace from flags or environment (the time scale also from `publishing.yaml`)."""
    settings = policy_at(repo, commit).marketplace if commit else None
    if commit:
        warn_moved_keys(repo, commit)
    return marketplace_from_args(
        args,
        repo.worktree or repo.git_dir,
        default_time_scale=settings.time_scale if settings else None,
    )


def warn_moved_keys(repo: GitRepo, commit: str, stream: TextIO | None = None) -> list[str]:
    """Tell the operator, on stderr, which publishing.yaml keys at `commit` are now theirs.

    Those keys (endpoints, which variable holds a token) are ignored, never obeyed; an
    unreadable publishing.yaml is reported where it is used, not here. The lines written.
    """
    try:
        data = githistory.read_file(repo, commit, POLICY_FILE, _POLICY_MAX_BYTES)
        document = load_mapping(data, name=POLICY_FILE).document if data is not None else None
    except (UserError, GitHistoryError):
        return []
    lines = [
        f"offerctl: warning: {POLICY_FILE}: {f.path}: {f.message}"
        for f in parse_policy(document)[1]
        if f.code == "MovedToOperator"
    ]
    for line in lines:
        print(line, file=stream or sys.stderr)
    return lines


def judge_from_args(args: argparse.Namespace, repo: GitRepo, watch: Watch) -> JudgeSignOff:
    """Sign-off evaluation with the operator's GitHub endpoint and the watched branch's name."""
    endpoint = github_endpoint(getattr(args, "github_api_url", None))
    azure_devops = azure_devops_endpoint(getattr(args, "azure_devops_url", None))
    # watch.branch None: the branch checked out (evaluate_signoff asks git).
    return default_judge(repo, endpoint=endpoint, branch=watch.branch, azure_devops=azure_devops)
