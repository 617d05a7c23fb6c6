"""`offerctl wait OFFER --for phase=Live --timeout 10d`: block until a committed status says so.

For scripts and CI. Like `offerctl status`, it reads offers/OFFER/status.yaml
as committed, never the working tree and never the marketplace: at `--rev`
(default HEAD, read again at every poll, so a daemon committing onto the
checked-out branch is seen), or with `--remote NAME --branch NAME` at that
branch's tip, fetched at every poll. A status counts only when it was written
for the manifest at that commit (same generation, target and suspend; see
`controller.core.waitfor`), so a status left from before a push never satisfies
the wait.

A committed status.yaml is only as trustworthy as whoever committed it, and a
pull request can commit one by hand. So `wait` believes it only at a commit
the controller signed (`--allowed-signers FILE` or
OFFERCTL_STATUS_ALLOWED_SIGNERS, naming the key the controller signs its
status commits with; see `controller.commands.statustrust`); a status whose
last change no allowed key signed is ignored, as if absent. Without that
trust anchor `wait` refuses (exit 2), unless `--unverified` accepts any
committed status, and then every answer says it is unverified.

Exit 0 when the condition holds; 1 on timeout, when the offer can no longer
get there without a person's change (Rejected waiting for Live, a target that
is not live, a failed stage), or when the offer does not exist; 2 on usage
errors. Progress (what the offer is doing now) goes to stderr when it
changes; the one line on stdout says the condition was met.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from controller.commands import statustrust
from controller.core.errors import EXIT_FAIL, EXIT_OK, TransientError, UsageError, UserError
from controller.core.model import OfferStatus
from controller.core.waitfor import Manifest, WaitFor, judge, parse_duration, parse_for
from controller.git.repo import OFFERS_DIR, GitRepo, check_branch_name, check_remote_name
from controller.git.tree import GitTreeFiles
from controller.present.timefmt import duration
from controller.reconcile.reconciler import Validate, default_validate
from controller.repo.statusread import check_offer_id, read_statuses, resolve


@dataclass(frozen=True, slots=True)
class Observation:
    """The offer at one commit: its committed status and what its manifest asks for."""

    commit: str
    status: OfferStatus | None
    manifest: Manifest
    ignored: str = ""  # why a committed status was not believed ("" : believed or none)


class CommittedOffer:
    """Reads one offer at the watched commit; the manifest is validated once per commit."""

    def __init__(
        self,
        repo: GitRepo,
        offer: str,
        *,
        rev: str = "HEAD",
        remote: str | None = None,
        branch: str | None = None,
        validate: Validate = default_validate,
        signers: bytes | None = None,
    ) -> None:
        self.repo, self.offer, self.rev = repo, offer, rev
        self.remote, self.branch = remote, branch
        self.validate = validate
        self.signers = signers  # None: every committed status is believed (--unverified)
        self._last: tuple[str, Manifest] | None = None

    def tip(self) -> str:
        if self.remote and self.branch:
            return self.repo.fetch(self.remote, self.branch)
        return resolve(self.repo, self.rev)

    def read(self) -> Observation:
        commit = self.tip()
        entries = read_statuses(self.repo, commit, [self.offer])
        entry = next((e for e in entries if e.offer == self.offer), None)
        if entry is None or not entry.has_manifest:
            raise UserError(
                f"no {OFFERS_DIR}/{self.offer}/offer.yaml at {commit[:12]}; "
                "`offerctl status` lists the offers"
            )
        status, ignored = entry.status, ""
        if status is not None and self.signers is not None:
            path = f"{OFFERS_DIR}/{self.offer}/status.yaml"
            ignored = statustrust.written_by_controller(self.repo, commit, path, self.signers)
            status = None if ignored else status
        return Observation(commit, status, self._manifest(commit), ignored)

    def _manifest(self, commit: str) -> Manifest:
        if self._last is not None and self._last[0] == commit:
            return self._last[1]
        snapshot = self.repo.snapshot(commit, [self.offer])
        check = self.validate(GitTreeFiles(snapshot), self.offer)
        manifest = Manifest(check.generation, check.target, check.suspend)
        self._last = (commit, manifest)
        return manifest


def run(args: argparse.Namespace) -> int:
    offer = check_offer_id(args.offer)
    wanted = parse_for(args.condition)
    timeout = parse_duration(args.timeout)
    interval = parse_duration(args.interval)
    if args.remote and not args.branch:
        raise UsageError("--remote needs --branch: name the remote branch to read")
    if args.branch and not args.remote:
        raise UsageError("--branch reads a remote branch: give --remote too, or use --rev")
    if args.remote and args.rev:
        raise UsageError("--rev and --remote name the commit two ways; give one")
    if args.remote:
        check_remote_name(args.remote)
        check_branch_name(args.branch)
    signers = statustrust.allowed_signers(args.allowed_signers, os.environ)
    if signers is None and not args.unverified:
        raise UsageError(
            "wait needs a trust anchor: status.yaml can be committed by anyone who can open a "
            "pull request. Give --allowed-signers FILE (or "
            f"{statustrust.ENV_ALLOWED_SIGNERS}) naming the key the controller signs its "
            f"status commits with ({statustrust.ENV_SIGNING_KEY}), or --unverified to "
            "accept any committed status"
        )
    if signers is not None and args.unverified:
        raise UsageError("--unverified and --allowed-signers contradict each other; give one")
    with GitRepo(Path(args.repo)) as repo:
        source = CommittedOffer(
            repo, offer, rev=args.rev or "HEAD", remote=args.remote, branch=args.branch,
            signers=signers,
        )  # fmt: skip
        return wait(source.read, offer, wanted, timeout=timeout, interval=interval,
                    verified=signers is not None)  # fmt: skip


def wait(
    read: Callable[[], Observation],
    offer: str,
    wanted: WaitFor,
    *,
    timeout: float,
    interval: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    out: TextIO | None = None,
    err: TextIO | None = None,
    verified: bool = True,
) -> int:
    """Poll `read` every `interval` s until `wanted` holds (0), or cannot, or time is up (1).

    `verified` False (--unverified): every answer says the status was not checked.
    """
    out, err = out or sys.stdout, err or sys.stderr
    caveat = "" if verified else "; UNVERIFIED: anyone who can commit could have written it"
    if not verified:
        print(f"offerctl: {offer}: --unverified: status.yaml is believed without checking "
              "that the controller wrote it", file=err, flush=True)  # fmt: skip
    deadline = clock() + timeout
    shown = ""
    while True:
        try:
            seen = read()
        except TransientError as exc:  # a remote that cannot be reached now may be later
            now = f"cannot read the branch: {exc}"
        else:
            verdict = judge(wanted, seen.status, seen.manifest)
            where = f"status at {seen.commit[:12]}{caveat}"
            if verdict.met:
                print(f"{offer}: {wanted} ({where})", file=out, flush=True)
                return EXIT_OK
            if verdict.impossible:
                print(
                    f"offerctl: {offer}: {wanted} cannot be met: {verdict.impossible} ({where})",
                    file=err,
                    flush=True,
                )
                return EXIT_FAIL
            now = f"{seen.ignored or verdict.now} ({where})"
        if now != shown:
            print(f"{offer}: waiting for {wanted}: {now}", file=err, flush=True)
            shown = now
        remaining = deadline - clock()
        if remaining <= 0:
            took = duration(timedelta(seconds=timeout)) if timeout >= 1 else f"{timeout:g}s"
            print(
                f"offerctl: {offer}: timed out after {took} waiting for {wanted}; "
                f"last seen: {shown}",
                file=err,
                flush=True,
            )
            return EXIT_FAIL
        sleep(min(interval, remaining))
