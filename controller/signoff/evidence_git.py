"""Review evidence from git alone: the commit that brought signoff.yaml in, trailers, signature.

For the `git` provider (and the commit facts the other providers share):
- the introducing commit is the newest commit on the watched branch's
  first-parent history that changed signoff.yaml's content;
- approvals are its `Approved-by:` / `Reviewed-by:` trailers, as git parses
  them;
- signatures are verified against keys read from the introducing commit's
  *first parent*: the allowed signers as they stood before the change
  arrived, so a pull request cannot add the key that signs it. A good
  signature names its *principal*, the identity git verified it for (the
  allowed-signers entry whose key made it, or the OpenPGP user id); that,
  not any author field, is who signed;
- the change's authors: with `trust: signature` (the default), the
  principals that signed the commits a merge brought in (or the signer of
  a commit that is not a merge), and the merge's own signer when the merge
  itself wrote the file; a commit in the change that no allowed signer
  signed is listed in `unverified`, since nobody can tell who wrote it.
  With `trust: push-access`, the author fields (and `Co-authored-by:`),
  which are only text.
"""

from __future__ import annotations

import re

from controller.git import history as githistory
from controller.git.history import CommitInfo, GitHistoryError, RepoHandle
from controller.repo.policy import ApprovalTrust, Provider, SignOffPolicy
from controller.signoff import history_index
from controller.signoff.rules import (
    Approval,
    ChangeEvidence,
    Ignored,
    Person,
    SignatureStatus,
)
from controller.signoff.trailers import (
    APPROVAL_KEYS,
    AUTHOR_KEYS,
    parse_identity,
    parse_trailer_lines,
    with_keys,
)

MAX_SIGNERS_BYTES = 256 * 1024
# What `git verify-commit` prints for a good signature, ssh and OpenPGP.
_SSH_GOOD = re.compile(r'^Good "git" signature for (?P<principal>.+?) with \S+ key \S+')
_GPG_GOOD = re.compile(r'Good signature from "[^"<]*<(?P<principal>[^<>"\s]+)>')


def gather(repo: RepoHandle, tip: str, path: str, policy: SignOffPolicy) -> ChangeEvidence:
    """Evidence for `path` at `tip`; never raises for git failures (they become lookup_error)."""
    introducing = ""
    try:
        found = history_index.introducing_commit(repo, tip, path)
        if found is None:
            return ChangeEvidence(commit="", lookup_error=f"{path} is not in commit {tip[:12]}")
        introducing = found
        info = history_index.commit_info(repo, introducing)
        signers = _Signers.load(repo, info, policy)
        signature, detail, signer = signers.check(info)
        if policy.provider is Provider.GIT and policy.trust is ApprovalTrust.SIGNATURE:
            authors, unverified = signed_authors(repo, info, path, signers, signer, tip=tip)
        else:
            authors, unverified = change_authors(repo, info, path, tip=tip), ()
        return ChangeEvidence(
            commit=info.id,
            parents=info.parents,
            committed_at=info.committed_at,
            authors=authors,
            approvals=trailer_approvals(info),
            signature=signature,
            signature_detail=detail,
            signer=signer,
            writer=_author(info),
            unverified=unverified,
        )
    except GitHistoryError as exc:
        return ChangeEvidence(commit=introducing, lookup_error=str(exc))


def trailer_approvals(info: CommitInfo) -> tuple[Approval, ...]:
    out: list[Approval] = []
    for trailer in with_keys(parse_trailer_lines(info.trailers_text), APPROVAL_KEYS):
        source = f"{trailer.key}: trailer"
        who = parse_identity(trailer.value)
        if who is None:
            out.append(
                Approval(
                    Person(name=trailer.value),
                    source,
                    info.committed_at,
                    Ignored.PLATFORM,
                    "is not written as Name <email>",
                )
            )
            continue
        person = Person(name=who.name, email=who.email, login=who.github_login)
        out.append(Approval(person, source, info.committed_at))
    return tuple(out)


def change_authors(
    repo: RepoHandle, info: CommitInfo, path: str, *, tip: str = ""
) -> tuple[Person, ...]:
    """Who wrote the signed-off change; an approval by any of them is self-approval.

    `tip` is the commit being judged, when `info` introduced `path` on its
    first-parent history: git's answers then come from its per-pass index."""
    commits = history_index.merged_commits(repo, info) if info.is_merge else (info,)
    people: list[Person] = []
    for commit in commits:
        people.append(_author(commit))
        people.extend(_co_authors(commit))
    if info.is_merge and _merge_wrote(repo, info, path, tip):
        people.append(_author(info))
    return tuple(people)


def _author(commit: CommitInfo) -> Person:
    who = parse_identity(f"{commit.author_name} <{commit.author_email}>")
    login = who.github_login if who else ""
    return Person(name=commit.author_name, email=commit.author_email, login=login)


def _co_authors(commit: CommitInfo) -> list[Person]:
    people = []
    for trailer in with_keys(parse_trailer_lines(commit.trailers_text), AUTHOR_KEYS):
        who = parse_identity(trailer.value)
        if who is not None:
            people.append(Person(name=who.name, email=who.email, login=who.github_login))
    return people


def _merge_wrote(repo: RepoHandle, merge: CommitInfo, path: str, tip: str = "") -> bool:
    """True when no merged parent had the merge's content: the merge itself wrote it."""
    if tip and history_index.is_signoff_path(path):
        here = history_index.tree_entry(repo, tip, path)  # the merge introduced tip's content
        if here is None:
            return True
        return all(
            history_index.blob_in(repo, tip, parent, path) != here.oid
            for parent in merge.parents[1:]
        )
    here = githistory.tree_entry(repo, merge.id, path)
    for parent in merge.parents[1:]:
        theirs = githistory.tree_entry(repo, parent, path)
        if here is not None and theirs is not None and theirs.oid == here.oid:
            return False
    return True


def signed_authors(
    repo: RepoHandle,
    info: CommitInfo,
    path: str,
    signers: _Signers,
    merge_signer: str,
    *,
    tip: str = "",
) -> tuple[tuple[Person, ...], tuple[str, ...]]:
    """Who wrote the change, by verified signature; and the commits nobody verifiably signed."""
    if not info.is_merge:
        # A commit that is not a merge was written by whoever signed it.
        return ((Person(email=merge_signer),) if merge_signer else ()), (
            () if merge_signer else (info.id,)
        )
    people: list[Person] = []
    unverified: list[str] = []
    for listed in history_index.merged_commits(repo, info):
        commit = githistory.commit_info(repo, listed.id)  # the log leaves `signed` unset
        _status, _detail, principal = signers.check(commit)
        if principal:
            people.append(Person(email=principal))
        else:
            unverified.append(commit.id)
    if _merge_wrote(repo, info, path, tip):
        if merge_signer:
            people.append(Person(email=merge_signer))
        else:
            unverified.append(info.id)
    return tuple(people), tuple(unverified)


class _Signers:
    """The trusted keys as they stood before the change (its first parent), and checks."""

    def __init__(self, repo: RepoHandle, keys: bytes | None, gpg_home: str, problem: str) -> None:
        self.repo = repo
        self.keys = keys
        self.gpg_home = gpg_home
        self.problem = problem

    @classmethod
    def load(cls, repo: RepoHandle, info: CommitInfo, policy: SignOffPolicy) -> _Signers:
        keys: bytes | None = None
        problem = ""
        if policy.allowed_signers_file:
            keys, problem = _trusted_signers(repo, info, policy.allowed_signers_file)
        return cls(repo, keys, policy.gpg_home, problem)

    def check(self, info: CommitInfo) -> tuple[SignatureStatus, str, str]:
        """(status, git's words, the verified principal or "")."""
        if not info.signed:
            return SignatureStatus.UNSIGNED, "the commit is not signed", ""
        if self.problem:
            return SignatureStatus.BAD, self.problem, ""
        if self.keys is None and not self.gpg_home:
            return (
                SignatureStatus.NOT_CHECKED,
                "no allowedSignersFile or gpgHome is configured",
                "",
            )
        check = githistory.verify_commit(
            self.repo, info.id, allowed_signers=self.keys, gpg_home=self.gpg_home
        )
        status = SignatureStatus(check.status.value)
        if status is not SignatureStatus.GOOD:
            return status, check.detail, ""
        return status, check.detail, signature_principal(check.detail)


def signature_principal(detail: str) -> str:
    """The identity a good signature was verified for, from git's own words ("" if none)."""
    for pattern in (_SSH_GOOD, _GPG_GOOD):
        match = pattern.search(detail)
        if match:
            return match.group("principal").strip()
    return ""


def _trusted_signers(repo: RepoHandle, info: CommitInfo, path: str) -> tuple[bytes | None, str]:
    if not info.parents:
        return None, f"{path} cannot be read before a root commit"
    parent = info.parents[0]
    entry = githistory.tree_entry(repo, parent, path)
    if entry is None or entry.mode not in {"100644", "100755"}:
        return None, f"allowed signers file {path} is not a regular file in commit {parent[:12]}"
    return githistory.read_blob(repo, entry.oid, MAX_SIGNERS_BYTES), ""
