"""What makes a committed status.yaml the controller's: SSH-signed status commits.

status.yaml is output, never authority (docs/DESIGN.md §4): anyone who can
open a pull request can commit one. For `offerctl wait` to rest on evidence
the controller produced, the operator gives the controller an SSH key that
signs its status commits, and gives `wait` the allowed-signers file that
names that key:

- `OFFERCTL_STATUS_SIGNING_KEY=/abs/path/key` (reconcile, run): the private
  key file; git signs each status commit with it (`gpg.format=ssh`);
- `offerctl wait --allowed-signers FILE` or `OFFERCTL_STATUS_ALLOWED_SIGNERS`:
  an ssh allowed_signers file (`principal key-type key`) on the machine that
  waits, never read from the repository.

`wait` then believes offers/OFFER/status.yaml only when the commit that made
it what it is (first-parent history) was signed by an allowed key; both
steps are the ones sign-off uses (`controller.git.history.introducing_commit`,
`verify_commit`). Without a trust
anchor `wait` refuses, unless told `--unverified`, and then says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from controller.core.errors import UsageError
from controller.git.history import (
    GitHistoryError,
    Verification,
    introducing_commit,
    roots_since,
    tree_entry,
    verify_commit,
    versions_since,
)
from controller.git.repo import GitRepo

ENV_SIGNING_KEY = "OFFERCTL_STATUS_SIGNING_KEY"
ENV_ALLOWED_SIGNERS = "OFFERCTL_STATUS_ALLOWED_SIGNERS"
MAX_SIGNERS_BYTES = 256 * 1024


def signing_key(env: Mapping[str, str]) -> str:
    """The operator's status-signing key file, checked; "" when none is configured."""
    raw = env.get(ENV_SIGNING_KEY, "").strip()
    if not raw:
        return ""
    path = Path(raw)
    if not path.is_absolute() or not path.is_file():
        raise UsageError(f"{ENV_SIGNING_KEY} must be the absolute path of an SSH private key file")
    return str(path)


def allowed_signers(given: str | None, env: Mapping[str, str]) -> bytes | None:
    """The allowed-signers file's content (flag, else environment); None when none is given."""
    raw = given or env.get(ENV_ALLOWED_SIGNERS, "").strip()
    if not raw:
        return None
    path = Path(raw)
    try:
        if path.stat().st_size > MAX_SIGNERS_BYTES:
            raise UsageError(f"allowed signers file {raw} is larger than {MAX_SIGNERS_BYTES} bytes")
        content = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the allowed signers file {raw}: {exc.strerror}") from None
    if not content.strip():
        raise UsageError(f"the allowed signers file {raw} names no key")
    return content


def written_by_controller(repo: GitRepo, commit: str, path: str, signers: bytes) -> str:
    """ "" when `path` at `commit` was made what it is by a commit an allowed key signed; else why.

    The commit that made it so is the newest on `commit`'s first-parent history
    whose `path` differs from its first parent's (`introducing_commit`, as
    sign-off finds the commit that introduced a signoff.yaml): the controller
    writes its status commits onto the branch itself, so that is the
    controller's commit exactly when the content is its own. A hand-written
    status, or a controller status edited, reverted to an older one, or
    merged in by a person, was made so by a commit the key did not sign (a
    false "not the controller's" at worst, until its next status commit).
    First-parent order does not depend on commit dates, which a forger sets.
    """
    try:
        found = introducing_commit(repo, commit, path)
    except GitHistoryError as exc:
        return f"{path}: {exc}; it is ignored"
    if found is None:
        return f"{path} does not exist at {commit[:12]}"
    check = verify_commit(repo, found, allowed_signers=signers)
    if check.status is not Verification.GOOD:
        return (
            f"{path} was last changed by commit {found[:12]}, which no allowed signer signed "
            f"({check.detail}); it is not the controller's and is ignored"
        )
    # A merge whose FIRST parent is an old signed status commit, fast-forwarded onto
    # the branch, makes that commit the "introducing" one again: it must also be the
    # latest word, with no commit after it (and before `commit`) holding another version.
    # Both questions need the history in between: in a shallow clone a boundary
    # commit has no parents, so it "changed" every file and the commits before it
    # that superseded a status are not there to see. A cut history proves nothing.
    try:
        cut = roots_since(repo, found, commit)
        here = tree_entry(repo, commit, path)
        since = versions_since(repo, found, commit, path)
    except GitHistoryError as exc:
        return f"{path}: {exc}; it is ignored"
    if cut:
        return (
            f"{path}: the history from commit {found[:12]} on is cut at {cut[0][:12]} (a "
            "shallow clone, or an unrelated history merged in), so who last changed it "
            "cannot be told; fetch the full history (fetch-depth: 0). It is ignored"
        )
    if here is None or since - {(here.mode, here.oid)}:
        return (
            f"{path} is the one signed commit {found[:12]} wrote, but a later commit on the "
            "way to this one changed it since (an older status brought back by a merge); "
            "it is not the controller's latest and is ignored"
        )
    return ""
