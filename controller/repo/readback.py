"""Reading the repository contract's files back: publishing.yaml as a `Policy`, and an
offer's status.yaml as the status the controller last committed.

One reading, one meaning, for every caller (the reconciler, `offerctl signoff`,
`status`, `plan`, `pr-check` and the run loop's gauges):

- publishing.yaml absent: the defaults. Present but unreadable (not YAML, not a
  mapping, oversized, a symlink): the defaults everywhere *except* sign-off,
  which carries the problem in `SignOffPolicy.problems`, so that while it is
  broken no sign-off counts and `offerctl signoff` says to fix the file rather
  than to collect approvals. A broken file voids sign-offs; it never loosens them.
- status.yaml is output, never authority: an unreadable one is no status, with
  a problem that says why; the controller rewrites it on its next pass.

The callers fetch the bytes (from a tree snapshot, a blob or `git cat-file`);
this module only gives them one meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from controller.core.errors import UserError
from controller.core.kept import Kept
from controller.core.model import OfferStatus
from controller.files.yamlio import YamlError, load_mapping
from controller.git.tree import TreeSnapshot
from controller.repo import layout, status
from controller.repo.layout import POLICY_FILE
from controller.repo.policy import DEFAULT_POLICY, Policy, parse_policy

MAX_POLICY_BYTES = 1024 * 1024
MAX_STATUS_BYTES = 1024 * 1024  # a status file is a few KiB; anything bigger is not ours


def broken_policy(problem: str) -> Policy:
    """The defaults, with sign-off voided by `problem` (publishing.yaml could not be read)."""
    return replace(DEFAULT_POLICY, signoff=replace(DEFAULT_POLICY.signoff, problems=(problem,)))


def policy_from(data: bytes | None, *, where: str = POLICY_FILE) -> Policy:
    """The policy publishing.yaml's bytes describe (`None`: the file is absent).

    `where` names the file in a problem (e.g. "publishing.yaml at 1a2b3c4d5e6f").
    """
    if data is None:
        return parse_policy(None)[0]
    if len(data) > MAX_POLICY_BYTES:
        return broken_policy(f"{where} is {len(data):,} bytes; the limit is {MAX_POLICY_BYTES:,}")
    try:
        loaded = load_mapping(data, name=POLICY_FILE)
    except (YamlError, UserError) as exc:
        return broken_policy(f"{where}: {exc}")
    return parse_policy(loaded.document)[0]


@dataclass(frozen=True, slots=True)
class ReadStatus:
    """An offer's committed status.yaml: the status, or why there is none."""

    status: OfferStatus | None  # None: absent or unreadable
    problem: str = ""  # "" when absent or read; else what is wrong with the file


def status_from(data: bytes | None, *, path: str) -> ReadStatus:
    """The status in status.yaml's bytes (`None`: there is no status.yaml)."""
    if data is None:
        return ReadStatus(None)
    if len(data) > MAX_STATUS_BYTES:
        return ReadStatus(None, f"{path} is {len(data):,} bytes")
    try:
        parsed = status.parse(data, name=path)
    except UserError as exc:  # oversized for the loader, or otherwise refused
        return ReadStatus(None, str(exc))
    if parsed is None:
        return ReadStatus(None, f"{path} is not a readable status")
    return ReadStatus(parsed)


def policy_in(snapshot: TreeSnapshot) -> Policy:
    """publishing.yaml as the snapshot's commit holds it (see `policy_from`)."""
    entry = snapshot.entry(POLICY_FILE)
    if entry is None:
        return parse_policy(None)[0]
    where = f"{POLICY_FILE} at {snapshot.commit[:12]}"
    if entry.size > MAX_POLICY_BYTES:
        return broken_policy(f"{where} is {entry.size:,} bytes; the limit is {MAX_POLICY_BYTES:,}")
    try:
        data = snapshot.read(POLICY_FILE)
    except UserError as exc:  # a symlink, submodule or oversized blob
        return broken_policy(f"{where}: {exc}")
    return policy_from(data, where=where)


def status_in(snapshot: TreeSnapshot, offer: str) -> ReadStatus:
    """The offer's status.yaml as the snapshot's commit holds it (see `status_from`).

    What a blob says depends only on its bytes (and the path named in a
    problem), so each (path, blob id) is parsed once per process: a pass reads
    back mostly the statuses it or an earlier pass wrote, unchanged.
    """
    path = layout.status_path(offer)
    entry = snapshot.entry(path)
    if entry is None:
        return ReadStatus(None)
    if entry.size > MAX_STATUS_BYTES:
        return ReadStatus(None, f"{path} is {entry.size:,} bytes")
    key = (path, entry.mode, entry.oid)
    known = _PARSED.get(key)
    if known is not None:
        return known
    try:
        data = snapshot.read(path)
    except UserError as exc:  # a symlink or another non-file where status.yaml should be
        return ReadStatus(None, str(exc))
    read = status_from(data, path=path)
    _PARSED.put(key, read, weight=len(data))
    return read


# Parsed statuses by (path, mode, blob id), least recently used first; bounded in the
# bytes they were parsed from too (a parsed status takes about twice its file's size),
# since a status.yaml a pull request wrote may hold up to MAX_STATUS_BYTES.
MAX_PARSED_STATUSES = 16_384
MAX_PARSED_BYTES = 8 * 1024 * 1024
_PARSED: Kept[tuple[str, str, str], ReadStatus] = Kept(
    MAX_PARSED_STATUSES, max_weight=MAX_PARSED_BYTES
)
