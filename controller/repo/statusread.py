"""Committed status, read back from git: every offer's status.yaml at a commit, and one
offer's status.yaml through the branch's history.

This is what `offerctl status` and `offerctl history` show. They read commits,
never the working tree: status.yaml is what the controller committed, and a
half-edited or hand-edited copy on disk is not the controller's word. No
marketplace is asked anything.

History follows the first-parent line of the commit (the watched branch as
the controller and merges moved it), with `git log -m --first-parent --raw`
run with a fixed argv, and reads each version's blob from the object database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from controller.core.errors import UsageError, UserError
from controller.core.model import Phase
from controller.git import history as githistory
from controller.git.repo import BlobTooLarge, GitRepo, check_ref_name
from controller.repo import layout, readback, status
from controller.repo.statustypes import OfferEntry, PhaseChange, StatusVersion

STATUS_FILE = layout.STATUS_FILE
MANIFEST_FILE = layout.MANIFEST_FILE
MAX_STATUS_BYTES = readback.MAX_STATUS_BYTES
OFFER_ID = layout.OFFER_ID
_ZERO = re.compile(r"^0+$")


status_path = layout.status_path


def check_offer_id(offer: str) -> str:
    if not layout.is_offer_id(offer):
        raise UsageError(
            f"{offer!r} is not an offer id (3-50 lowercase letters, digits and hyphens)"
        )
    return offer


def resolve(repo: GitRepo, rev: str) -> str:
    """The commit `rev` names; a UserError when there is none (empty repo, typo)."""
    check_ref_name(rev, what="revision")  # it reaches git's argv
    commit = repo.resolve(rev)
    if commit is None:
        raise UserError(f"no commit {rev!r} in {repo.worktree or repo.git_dir}")
    return commit


# ---------------------------------------------------------------- now


def read_statuses(
    repo: GitRepo, commit: str, offers: Iterable[str] | None = None
) -> list[OfferEntry]:
    """Every offer folder at `commit` (or only `offers`), sorted, with its status."""
    snapshot = repo.snapshot(commit, offers)
    entries: list[OfferEntry] = []
    for offer in snapshot.offer_ids():
        manifest = snapshot.entry(layout.manifest_path(offer)) is not None
        if snapshot.entry(status_path(offer)) is None:
            if manifest:
                entries.append(OfferEntry(offer, None))
            continue
        read = readback.status_in(snapshot, offer)
        entries.append(OfferEntry(offer, read.status, read.problem, manifest))
    return entries


# ---------------------------------------------------------------- over time


def status_versions(repo: GitRepo, commit: str, offer: str) -> list[StatusVersion]:
    """Every version of the offer's status.yaml on `commit`'s first-parent line, oldest first."""
    path = githistory.check_path(status_path(check_offer_id(offer)))
    args = [
        "log", "-m", "--first-parent", "--raw", "--no-abbrev", "--no-renames",
        "--format=%x1e%H%x00%ct%x00%an%x00%s",
    ]  # fmt: skip
    args += ["--end-of-options", githistory.check_oid(commit), "--", path]
    out = githistory.run_git(repo, args).stdout.decode("utf-8", "replace")
    versions = [_version(repo, record) for record in out.split("\x1e") if record.strip()]
    versions.reverse()
    return versions


def _version(repo: GitRepo, record: str) -> StatusVersion:
    header, *raw = record.strip("\n").split("\n")
    sha, when, author, subject = header.split("\x00", 3)
    blob = ""
    for line in raw:
        if line.startswith(":"):  # ":100644 100644 <old> <new> M\tpath"
            blob = line.split("\t", 1)[0].split()[3]
    parsed = None
    if blob and not _ZERO.match(blob):
        try:
            data = repo.read_blob(githistory.check_oid(blob), MAX_STATUS_BYTES)
        except BlobTooLarge:
            data = None  # an oversized status is not one the controller wrote
        if data is not None:
            parsed = status.parse(data, name=f"{sha[:12]}:status.yaml")
    moment = datetime.fromtimestamp(int(when), UTC)
    return StatusVersion(githistory.check_oid(sha), moment, author, subject, parsed)


def phase_changes(versions: Sequence[StatusVersion], *, every: bool = False) -> list[PhaseChange]:
    """The versions whose phase differs from the one before (all of them with `every`)."""
    changes: list[PhaseChange] = []
    before: Phase | None = None
    for version in versions:
        after = version.status.phase if version.status is not None else None
        if every or after != before:
            changes.append(
                PhaseChange(
                    version.commit,
                    version.committed_at,
                    version.author,
                    version.subject,
                    before,
                    after,
                    version.status,
                )
            )
        before = after
    return changes
