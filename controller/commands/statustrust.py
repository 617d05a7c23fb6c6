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

`wait` then believes offers/OFFER/status.yaml only at a commit whose last
change to that file is a commit signed by an allowed key; the check is the
one sign-off uses (`controller.git.history.verify_commit`). Without a trust
anchor `wait` refuses, unless told `--unverified`, and then says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from controller.core.errors import UsageError
from controller.git.history import Verification, verify_commit
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
    """ "" when `path` at `commit` was last written by a commit an allowed key signed; else why not.

    The last commit to change the file (git's default history simplification:
    a merge that took one side's file unchanged leads to that side) must carry
    a good signature. A hand-written status, or a controller status edited,
    reverted or re-added by anyone else, was last changed by a commit the key
    did not sign.
    """
    last = repo.runner.out("log", "-1", "--format=%H", commit, "--", path)
    if not last:
        return f"{path} does not exist at {commit[:12]}"
    check = verify_commit(repo, last, allowed_signers=signers)
    if check.status is Verification.GOOD:
        return ""
    return (
        f"{path} was last changed by commit {last[:12]}, which no allowed signer signed "
        f"({check.detail}); it is not the controller's and is ignored"
    )
