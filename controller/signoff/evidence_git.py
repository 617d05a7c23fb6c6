"""Review evidence from git alone: the commit that brought signoff.yaml in, trailers, signature.

For the `git` provider (and the commit facts the other providers share):
- the introducing commit is the newest commit on the watched branch's
  first-parent history that changed signoff.yaml's content;
- approvals are its `Approved-by:` / `Reviewed-by:` trailers, as git parses
  them;
- the change's authors are the authors (and `Co-authored-by:`) of the
  commits a merge brought in, or of the commit itself when it is not a
  merge; the merge's own author only when the merge itself wrote the file;
- the signature is verified against keys read from the introducing commit's
  *first parent*: the allowed signers as they stood before the change
  arrived, so a pull request cannot add the key that signs it.
"""

from __future__ import annotations

from controller import githistory
from controller.githistory import CommitInfo, GitHistoryError, RepoHandle
from controller.policy import SignOffPolicy
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


def gather(repo: RepoHandle, tip: str, path: str, policy: SignOffPolicy) -> ChangeEvidence:
    """Evidence for `path` at `tip`; never raises for git failures (they become lookup_error)."""
    introducing = ""
    try:
        found = githistory.introducing_commit(repo, tip, path)
        if found is None:
            return ChangeEvidence(commit="", lookup_error=f"{path} is not in commit {tip[:12]}")
        introducing = found
        info = githistory.commit_info(repo, introducing)
        signature, detail = check_signature(repo, info, policy)
        return ChangeEvidence(
            commit=info.id,
            parents=info.parents,
            committed_at=info.committed_at,
            authors=change_authors(repo, info, path),
            approvals=trailer_approvals(info),
            signature=signature,
            signature_detail=detail,
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


def change_authors(repo: RepoHandle, info: CommitInfo, path: str) -> tuple[Person, ...]:
    """Who wrote the signed-off change; an approval by any of them is self-approval."""
    commits = githistory.merged_commits(repo, info) if info.is_merge else (info,)
    people: list[Person] = []
    for commit in commits:
        people.append(_author(commit))
        people.extend(_co_authors(commit))
    if info.is_merge and _merge_wrote(repo, info, path):
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


def _merge_wrote(repo: RepoHandle, merge: CommitInfo, path: str) -> bool:
    """True when no merged parent had the merge's content: the merge itself wrote it."""
    here = githistory.tree_entry(repo, merge.id, path)
    for parent in merge.parents[1:]:
        theirs = githistory.tree_entry(repo, parent, path)
        if here is not None and theirs is not None and theirs.oid == here.oid:
            return False
    return True


def check_signature(
    repo: RepoHandle, info: CommitInfo, policy: SignOffPolicy
) -> tuple[SignatureStatus, str]:
    if not info.signed:
        return SignatureStatus.UNSIGNED, "the commit is not signed"
    signers: bytes | None = None
    if policy.allowed_signers_file:
        signers, problem = _trusted_signers(repo, info, policy.allowed_signers_file)
        if problem:
            return SignatureStatus.BAD, problem
    if signers is None and not policy.gpg_home:
        return SignatureStatus.NOT_CHECKED, "no allowedSignersFile or gpgHome is configured"
    check = githistory.verify_commit(
        repo, info.id, allowed_signers=signers, gpg_home=policy.gpg_home
    )
    return SignatureStatus(check.status.value), check.detail


def _trusted_signers(repo: RepoHandle, info: CommitInfo, path: str) -> tuple[bytes | None, str]:
    if not info.parents:
        return None, f"{path} cannot be read before a root commit"
    parent = info.parents[0]
    entry = githistory.tree_entry(repo, parent, path)
    if entry is None or entry.mode not in {"100644", "100755"}:
        return None, f"allowed signers file {path} is not a regular file in commit {parent[:12]}"
    return githistory.read_blob(repo, entry.oid, MAX_SIGNERS_BYTES), ""
