"""GitHub push webhooks: is a delivery authentic, and which offers does it touch?

Authenticity is `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw
body>` under a shared secret, compared in constant time. The secret comes
from an environment variable (named by `--webhook-secret-env`) so it never
sits on a command line or in a file in the repository. Without a secret the
endpoint refuses everything: an unauthenticated trigger is not offered.

Which offers: the paths a push adds, modifies or removes under
`offers/<id>/`. Anything the payload cannot answer precisely (a force push, a
new or deleted branch, a truncated commit list, a change outside `offers/`
such as publishing.yaml or CODEOWNERS) asks for a full pass instead.
Changes to `status.yaml` alone are the controller's own writes coming back
(or a hand edit, which the periodic full resync overwrites): they ask for
nothing, so a status push never feeds back into another pass.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controller.daemon.workqueue import ALL
from controller.repo import layout

DEFAULT_SECRET_ENV = "OFFERCTL_WEBHOOK_SECRET"  # noqa: S105 - a variable's name, not a secret
SIGNATURE_HEADER = "X-Hub-Signature-256"
EVENT_HEADER = "X-GitHub-Event"
MAX_BODY = 5 * 1024 * 1024  # GitHub caps payloads at 25 MB; pushes we act on are far smaller
# Bytes of one delivery held in memory. The rest of a larger body is only fed to
# the HMAC, so unauthenticated senders cannot make the daemon buffer megabytes
# per connection; an authentic delivery that big just asks for a full pass.
MAX_KEPT = 256 * 1024
_SIGNATURE = re.compile(r"sha256=[0-9a-fA-F]{64}")
# GitHub writes "ref" first in a push payload, so a kept prefix still names the branch.
_REF = re.compile(rb'^\s*\{\s*"ref"\s*:\s*"(refs/[A-Za-z0-9._/-]{1,250})"')
_GITHUB_COMMITS_SHOWN = 20  # GitHub lists at most 20 commits in a push payload


def secret_from_env(name: str, environ: Mapping[str, str] | None = None) -> bytes | None:
    """The webhook secret from the environment variable `name`; None when unset or empty."""
    value = (os.environ if environ is None else environ).get(name, "")
    return value.encode("utf-8") if value else None


def sign(secret: bytes, body: bytes) -> str:
    """The header value GitHub sends for `body` (used by tests and `make demo`)."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes | None, body: bytes, header: str | None) -> bool:
    """True only when `header` is a valid sha256 signature of `body` under `secret`."""
    check = SignatureCheck.start(secret, header)
    if check is None:
        return False
    check.update(body)
    return check.valid()


def signature_well_formed(header: str | None) -> bool:
    """Whether `header` could be a signature at all (checked before any body is read)."""
    return header is not None and _SIGNATURE.fullmatch(header.strip()) is not None


class SignatureCheck:
    """The HMAC of a body fed in pieces, so a body is hashed as it arrives."""

    def __init__(self, secret: bytes, header: str) -> None:
        self._mac = hmac.new(secret, digestmod=hashlib.sha256)
        self._header = header.strip().lower()

    @classmethod
    def start(cls, secret: bytes | None, header: str | None) -> SignatureCheck | None:
        """A check to feed, or None when nothing could ever verify (no secret, bad header)."""
        if not secret or header is None or not signature_well_formed(header):
            return None
        return cls(secret, header)

    def update(self, chunk: bytes) -> None:
        self._mac.update(chunk)

    def valid(self) -> bool:
        expected = "sha256=" + self._mac.hexdigest()
        return hmac.compare_digest(expected.encode("ascii"), self._header.encode("ascii"))


@dataclass(frozen=True, slots=True)
class PushEvent:
    """What a verified push delivery asks the daemon to do."""

    ref: str
    keys: frozenset[str]  # offer ids, {ALL}, or empty (nothing to do)


def parse_push(body: bytes) -> PushEvent:
    """Read a GitHub push payload; ValueError if it is not one."""
    data = json.loads(body.decode("utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("ref"), str):
        raise ValueError("not a push payload: no ref")
    return PushEvent(ref=data["ref"], keys=frozenset(_touched_keys(data)))


def parse_truncated_push(prefix: bytes) -> PushEvent:
    """An authentic push too large to keep: its branch from the prefix, and a full pass.

    ValueError when the prefix does not start with the ref, as GitHub's payloads do.
    """
    found = _REF.match(prefix)
    if found is None:
        raise ValueError("payload too large to read and its ref is not at the start")
    return PushEvent(ref=found.group(1).decode("ascii"), keys=frozenset({ALL}))


def _touched_keys(data: Mapping[str, Any]) -> set[str]:
    commits = data.get("commits")
    if (
        data.get("forced")
        or data.get("created")
        or data.get("deleted")
        or not isinstance(commits, list)
        or len(commits) >= _GITHUB_COMMITS_SHOWN
    ):
        return {ALL}
    if not commits:
        return {ALL}
    keys: set[str] = set()
    for commit in commits:
        if not isinstance(commit, dict):
            return {ALL}
        for field in ("added", "modified", "removed"):
            paths = commit.get(field, [])
            if not isinstance(paths, list):
                return {ALL}
            for path in paths:
                if isinstance(path, str) and path.endswith("/status.yaml"):
                    continue
                key = offer_of_path(path) if isinstance(path, str) else None
                if key is None:
                    return {ALL}  # a repo-wide file (policy, CODEOWNERS) or something odd
                keys.add(key)
    return keys


def offer_of_path(path: str) -> str | None:
    """`offers/<id>/...` -> `<id>`; None for anything else."""
    return layout.offer_of(path)
