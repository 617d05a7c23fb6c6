"""Gathering sign-off evidence and asking the pure rules: `evaluate_signoff`.

`evaluate_signoff` is the one entry point. It gathers evidence (the
signoff.yaml at the reconciled commit, who may approve, how the file reached
the branch and who reviewed it) and hands it to `rules.decide`, the pure
decision. It never raises for what it finds in the repository or on GitHub:
every problem, including a git or API failure, is a verdict with `valid`
False and a message saying exactly why (failing closed).

The rules (publishing.yaml's signoff settings and CODEOWNERS) must let the
sign-off count both as they stand at the reconciled commit (so a later
revocation applies) and as they stood just before the commit that brought
signoff.yaml in (its first parent): a change may not write the rules it is
judged by, such as naming its own approver or switching the provider to
`none` in the pull request that adds the sign-off. Allowed signers are
read from that same first parent (see `evidence_git`).

Parsing is done once per content, not once per offer: publishing.yaml and
CODEOWNERS are parsed once per blob (a reconcile pass over 1,000 signed-off
offers reads the same two files 1,000 times), and tree lookups are made
once per (repository, commit, path); all three are immutable, so these
caches never go stale.

Where the GitHub API and the Azure DevOps server are, and which tokens are
sent there, are the operator's (`operator.GitHubEndpoint`,
`operator.AzureDevOpsEndpoint`); nothing read from the repository chooses them.

Modules: `document` (signoff.yaml), `repo.codeowners` (CODEOWNERS semantics),
`approvers` (who may approve), `trailers` (commit trailers), `rules` (the
decision), `evidence_git` / `evidence_github` / `evidence_azuredevops`
(gathering; `azuredevops_votes` is the Azure DevOps reading of votes), `replay`
and `continuity` (a sign-off a replaced first-parent history brought back).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from typing import TypeVar, cast

from controller.core.errors import UserError
from controller.core.model import SignOffVerdict
from controller.git import history as githistory
from controller.git.history import GitHistoryError, RepoHandle
from controller.git.tree import TreeEntry
from controller.repo import codeowners, layout, readback
from controller.repo.layout import POLICY_FILE
from controller.repo.policy import (
    AzureDevOpsSettings,
    Policy,
    Provider,
    SignOffPolicy,
)
from controller.signoff import (
    approvers,
    continuity,
    evidence_azuredevops,
    evidence_git,
    evidence_github,
    history_index,
    replay,
    rules,
)
from controller.signoff.document import MAX_BYTES, parse_signoff
from controller.signoff.evidence_azuredevops import AzureDevOpsClient
from controller.signoff.evidence_github import GitHubClient, GitHubError, GitHubRateLimited
from controller.signoff.operator import (
    AzureDevOpsEndpoint,
    GitHubEndpoint,
    azure_devops_endpoint,
    github_endpoint,
)
from controller.signoff.replay import Replay
from controller.signoff.rules import Authorization, ParsedSignOff, SignOffReason, Trust

__all__ = [
    "AzureDevOpsClient",
    "AzureDevOpsEndpoint",
    "GitHubClient",
    "GitHubEndpoint",
    "GitHubError",
    "GitHubRateLimited",
    "SignOffReason",
    "Trust",
    "evaluate_signoff",
    "load_authorization",
]

_POLICY_MAX_BYTES = readback.MAX_POLICY_BYTES
# The files whose content decides who may sign off and how (see the module docstring).
_RULE_FILES: tuple[str, ...] = layout.POLICY_PATHS


def evaluate_signoff(
    repo: RepoHandle,
    commit: str,
    offer_id: str,
    current_generation: str,
    policy: Policy,
    *,
    github: GitHubClient | None = None,
    endpoint: GitHubEndpoint | None = None,
    branch: str | None = None,
    azure_devops: AzureDevOpsEndpoint | None = None,
    reconciled: str = "",
    remembered: Replay | None = None,
) -> SignOffVerdict:
    """Whether `offers/<offer_id>/signoff.yaml` at `commit` signs off `current_generation`.

    `repo` is a path (working tree or bare) or an object with `git_dir` (our
    `GitRepo`, GitPython's `Repo`); `commit` is the full hex id of the
    watched branch's commit being reconciled, and `branch` that branch's
    name (default: the branch checked out in `repo`). `endpoint` is the
    GitHub API the operator named (default: from the environment, see
    `operator`); `github` overrides the whole client (tests, shared caching).
    `azure_devops` is the Azure DevOps server the operator named (default:
    from the environment).
    `reconciled` is the last commit the controller reconciled on this branch ("":
    none known) and `remembered` the replay it found for this offer before: a
    sign-off brought back by replacing the branch's history is distrusted first
    (`replay`, docs/DESIGN.md §5 "A replaced history").
    Raises ValueError only for a `commit` that is not a full hex id.
    """
    githistory.check_oid(commit)
    if not layout.is_offer_id(offer_id):
        return SignOffVerdict(
            valid=False,
            reason=SignOffReason.INVALID.value,
            message=f"{offer_id!r} is not an offer id",
        )
    if branch is None:
        try:
            branch = githistory.current_branch(repo)
        except GitHistoryError:
            branch = None
    question = _Question(
        repo, commit, offer_id, current_generation, github, endpoint, branch, azure_devops
    )
    distrusted = _replayed(question, reconciled, remembered)
    if distrusted is not None:
        return distrusted
    verdict = _judge(question, policy, rules_commit=commit)
    if not verdict.valid or not verdict.commit:
        return verdict
    return _judge_under_earlier_rules(question, verdict)


@dataclass(frozen=True, slots=True)
class _Question:
    """What is being judged: one offer's signoff.yaml at one commit, for one generation."""

    repo: RepoHandle
    commit: str
    offer_id: str
    generation: str
    github: GitHubClient | None
    endpoint: GitHubEndpoint | None
    branch: str | None
    azure_devops: AzureDevOpsEndpoint | None = None


def _replayed(
    question: _Question, reconciled: str, remembered: Replay | None
) -> SignOffVerdict | None:
    """The verdict on a sign-off the branch's replaced history brought back; None: none was.

    Asked before any evidence: a replayed sign-off is distrusted whatever its
    approvals, and no review platform is asked about it."""
    if not reconciled and remembered is None:
        return None  # the first pass on this branch: nothing to compare (as before)
    path = approvers.signoff_path(question.offer_id)
    try:
        found = continuity.replayed(
            question.repo, question.commit, path, reconciled=reconciled, remembered=remembered
        )
        if found is None:
            return None
        parsed = _read_document(question.repo, question.commit, path)
    except GitHistoryError as exc:
        return SignOffVerdict(
            valid=False,
            reason=SignOffReason.LOOKUP_FAILED.value,
            message=f"could not tell whether the branch's history was replaced: {exc}",
        )
    named = parsed.document.generation if parsed is not None and parsed.document else ""
    return replay.verdict(found, named)


def _judge_under_earlier_rules(question: _Question, verdict: SignOffVerdict) -> SignOffVerdict:
    """`verdict` if the rules before the sign-off's commit also let it count; else why not."""
    repo, commit, introducing = question.repo, question.commit, verdict.commit
    try:
        parents = history_index.commit_parents(repo, commit, introducing)
        if not parents:
            return verdict  # the repository's first commit: no earlier rules exist
        before = parents[0]
        if all(_same_entry(repo, before, commit, path) for path in _RULE_FILES):
            return verdict
        earlier_policy = _policy_at(repo, before)
    except GitHistoryError as exc:
        return SignOffVerdict(
            valid=False,
            generation=verdict.generation,
            reason=SignOffReason.LOOKUP_FAILED.value,
            message=f"could not read the sign-off rules from git: {exc}",
            commit=introducing,
        )
    earlier = _judge(question, earlier_policy, rules_commit=before)
    if earlier.valid:
        return verdict
    return replace(
        earlier,
        message=f"not under the sign-off rules as they stood before commit {introducing[:12]} "
        "brought signoff.yaml in (publishing.yaml and CODEOWNERS count as of its first parent "
        f"{before[:12]}, so a change cannot write the rules it is judged by): {earlier.message}",
    )


def _judge(question: _Question, policy: Policy, *, rules_commit: str) -> SignOffVerdict:
    """The verdict with `policy`, and CODEOWNERS as `rules_commit` holds it."""
    repo, commit, offer_id = question.repo, question.commit, question.offer_id
    current_generation, github = question.generation, question.github
    path = approvers.signoff_path(offer_id)
    settings = policy.signoff
    try:
        parsed = _read_document(repo, commit, path)
        authorization = (
            None
            if settings.provider is Provider.NONE
            else load_authorization(repo, rules_commit, offer_id, settings)
        )
    except GitHistoryError as exc:
        return SignOffVerdict(
            valid=False,
            reason=SignOffReason.LOOKUP_FAILED.value,
            message=f"could not read the sign-off from git: {exc}",
        )
    early = rules.precheck(
        offer_id, current_generation, parsed, settings, authorization=authorization
    )
    if early is not None:
        return early
    if settings.provider is Provider.GITHUB:
        assert authorization is not None  # noqa: S101 - precheck ensures it
        if github is None:
            try:
                github = _client_for(
                    settings.github.repository, question.endpoint or github_endpoint()
                )
            except UserError as exc:
                return SignOffVerdict(
                    valid=False,
                    reason=SignOffReason.LOOKUP_FAILED.value,
                    message=f"the GitHub API cannot be asked: {exc}",
                )
        evidence, authorization = evidence_github.gather(
            repo,
            commit,
            path,
            settings,
            client=github,
            authorization=authorization,
            branch=question.branch,
        )
    elif settings.provider is Provider.AZURE_DEVOPS:
        try:
            client = _azure_client_for(
                settings.azure_devops, question.azure_devops or azure_devops_endpoint()
            )
        except (UserError, ValueError) as exc:
            return SignOffVerdict(
                valid=False,
                reason=SignOffReason.LOOKUP_FAILED.value,
                message=f"the Azure DevOps API cannot be asked: {exc}",
            )
        evidence = evidence_azuredevops.gather(
            repo, commit, path, settings, client=client, branch=question.branch
        )
    else:
        evidence = evidence_git.gather(repo, commit, path, settings)
    return rules.decide(
        offer_id,
        current_generation,
        parsed,
        settings,
        authorization=authorization,
        evidence=evidence,
    )


def _same_entry(repo: RepoHandle, a: str, b: str, path: str) -> bool:
    one, other = _tree_entry(repo, a, path), _tree_entry(repo, b, path)
    if one is None or other is None:
        return one is other
    return (one.mode, one.oid) == (other.mode, other.oid)


def _policy_at(repo: RepoHandle, commit: str) -> Policy:
    """publishing.yaml as `commit` holds it: defaults when absent; when it cannot be read,
    sign-off problems, so a broken file voids sign-offs rather than loosening them."""
    entry = _tree_entry(repo, commit, POLICY_FILE)
    if entry is None:
        return readback.policy_from(None)
    where = f"{POLICY_FILE} at {commit[:12]}"
    if entry.mode not in {"100644", "100755"}:
        return readback.broken_policy(f"{where} is not a regular file (a symlink or submodule)")
    if entry.size > _POLICY_MAX_BYTES:
        return readback.broken_policy(
            f"{where} is {entry.size:,} bytes; the limit is {_POLICY_MAX_BYTES:,}"
        )
    parse = partial(_parse_policy_blob, repo, entry.oid, where)
    return _once(("policy", entry.oid, where), parse)


def _parse_policy_blob(repo: RepoHandle, oid: str, where: str) -> Policy:
    data = githistory.read_blob(repo, oid, _POLICY_MAX_BYTES)
    return readback.policy_from(data, where=where)


def _parse_codeowners_blob(repo: RepoHandle, oid: str, location: str) -> codeowners.CodeOwners:
    text = githistory.read_blob(repo, oid, codeowners.MAX_BYTES)
    return codeowners.parse(text.decode("utf-8", "replace"), location)


def _tree_entry(repo: RepoHandle, commit: str, path: str) -> TreeEntry | None:
    """`githistory.tree_entry`, asked once per (repository, commit, path)."""
    key = ("entry", _repo_key(repo), commit, path)
    return _once(key, partial(githistory.tree_entry, repo, commit, path))


def _repo_key(repo: RepoHandle) -> str:
    git_dir = getattr(repo, "git_dir", None)
    return os.path.realpath(git_dir if git_dir is not None else cast("str", repo))


T = TypeVar("T")
_CACHE: OrderedDict[Hashable, object] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_ENTRIES = 8192


def _once(key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()` once per key. Keys name immutable things only (a blob id, a commit's
    tree entry), so an entry can be dropped when the cache is full but never goes stale.
    Exceptions are not cached: a failed read is tried again."""
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return cast("T", _CACHE[key])
    value = compute()
    with _CACHE_LOCK:
        _CACHE[key] = value
        while len(_CACHE) > _CACHE_ENTRIES:
            _CACHE.popitem(last=False)
    return value


@lru_cache(maxsize=8)
def _client_for(repository: str, endpoint: GitHubEndpoint) -> GitHubClient:
    """One client per repository and operator endpoint, kept across passes so its ETag
    cache saves the rate limit (a rotated token makes a new client)."""
    return GitHubClient.for_endpoint(repository, endpoint)


@lru_cache(maxsize=8)
def _azure_client_for(
    settings: AzureDevOpsSettings, endpoint: AzureDevOpsEndpoint
) -> AzureDevOpsClient:
    """One client (one connection pool) per repository and operator endpoint, kept across
    passes (a rotated token makes a new client)."""
    return AzureDevOpsClient.for_endpoint(settings, endpoint)


def load_authorization(
    repo: RepoHandle, commit: str, offer_id: str, settings: SignOffPolicy
) -> Authorization:
    """Who may approve `offer_id` at `commit`: publishing.yaml's approvers, else CODEOWNERS."""
    if settings.approvers:
        authorization = approvers.from_policy(settings)
    else:
        authorization = approvers.from_codeowners(_read_codeowners(repo, commit), offer_id)
    if settings.provider is Provider.GIT and authorization.teams:
        teams = ", ".join(f"@{t}" for t in sorted(authorization.teams))
        authorization = authorization.with_team_members(
            (), [f"{teams} cannot be resolved by the git provider; list members by email"]
        )
    if settings.provider is Provider.AZURE_DEVOPS and (authorization.teams or authorization.logins):
        named = ", ".join(f"@{n}" for n in sorted(authorization.teams | authorization.logins))
        authorization = authorization.with_team_members(
            (),
            [
                f"{named} name GitHub accounts, which Azure DevOps reviewers never are; "
                "list Azure DevOps approvers by e-mail (their sign-in name)"
            ],
        )
    return authorization


def _read_document(repo: RepoHandle, commit: str, path: str) -> ParsedSignOff | None:
    entry = history_index.tree_entry(repo, commit, path)
    if entry is None:
        return None
    if entry.mode not in {"100644", "100755"}:
        return ParsedSignOff(None, f"{path} is not a regular file (a symlink or submodule)")
    if entry.size > MAX_BYTES:
        return ParsedSignOff(
            None, f"{path} is {entry.size:,} bytes; a sign-off is at most {MAX_BYTES:,}"
        )
    return parse_signoff(history_index.read_blob(repo, commit, entry.oid, MAX_BYTES), name=path)


def _read_codeowners(repo: RepoHandle, commit: str) -> codeowners.CodeOwners | None:
    for location in layout.CODEOWNERS_PATHS:
        entry = _tree_entry(repo, commit, location)
        if entry is None or entry.mode not in {"100644", "100755"}:
            continue
        if entry.size >= codeowners.MAX_BYTES:
            return codeowners.CodeOwners(
                location, (), (f"{location} is 3 MB or more; GitHub ignores it, and so do we",)
            )
        parse = partial(_parse_codeowners_blob, repo, entry.oid, location)
        return _once(("codeowners", entry.oid, location), parse)
    return None
