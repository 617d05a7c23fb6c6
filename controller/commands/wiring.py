"""Turning the shared command-line options into the objects a pass needs.

`reconcile`, `run` and `plan` all read the watched branch from `--remote` /
`--branch` and open the marketplace with defaults from the `publishing.yaml`
of the commit they are about to read.
"""

from __future__ import annotations

import argparse

from controller.commands.options import marketplace_from_args
from controller.errors import UsageError
from controller.gitrepo import GitRepo, check_branch_name, check_remote_name
from controller.marketplace.api import Marketplace
from controller.reconcile import Watch, policy_at


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
    """The marketplace from flags, environment, or `publishing.yaml` at `commit`."""
    settings = policy_at(repo, commit).marketplace if commit else None
    return marketplace_from_args(
        args,
        repo.worktree or repo.git_dir,
        default_url=settings.url if settings else None,
        default_time_scale=settings.time_scale if settings else None,
    )
