"""Which Azure DevOps pull request brought a commit in, and whose votes stand: pure decisions.

Input is the JSON the Azure DevOps REST API answers with (api-version 7.1),
already read by `evidence_azuredevops`; output is plain evidence for
`rules.decide`. Nothing here does I/O.

The rules are the github provider's, in Azure DevOps' words:
- only a pull request whose `status` is `completed`, whose `targetRefName`
  is `refs/heads/<watched branch>` and whose `lastMergeCommit.commitId` *is*
  the commit that introduced signoff.yaml counts (a pull request completed
  into another branch, or whose content reached the branch by another
  commit, approved nothing that is on the branch);
- a reviewer's standing vote is `reviewers[].vote`: 10 approved and 5
  approved with suggestions count; -10 rejected is kept as a rejection (a
  rejection by an authorized or required reviewer blocks the sign-off);
  0 (no vote) and -5 (waiting for author) are neither;
- a vote must be on the final iteration (push). The reviewer list does not
  say when a vote was cast, so the time comes from the pull request's
  system threads (`CodeReviewThreadType` `VoteUpdate`, voter in
  `CodeReviewVotedByIdentity` or `CodeReviewVotedByTfId`, and the thread's
  first comment a system comment authored by that same identity, since
  anyone who may comment can POST a thread with such properties): a vote cast
  before the last iteration was created approved an earlier push, and a
  vote with no such record cannot be placed, so neither counts. (When the
  branch policy resets votes on push, Azure DevOps already shows the vote as
  0.)
- identities: a reviewer is matched to approver principals by e-mail, their
  `uniqueName` (the sign-in name, an e-mail address on Azure DevOps
  Services); `@logins` and `@org/team` name GitHub accounts and never match.
  The creator of the pull request (`createdBy`, compared by identity id as
  well as by e-mail) and the authors of its commits are the change's
  authors. Group reviewers (`isContainer`) never vote themselves; their
  members' own entries do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from controller.signoff.rules import Approval, Ignored, Person, Rejection

APPROVED = 10
APPROVED_WITH_SUGGESTIONS = 5
REJECTED = -10
VOTE_WORDS = {
    APPROVED: "approved",
    APPROVED_WITH_SUGGESTIONS: "approved with suggestions",
    0: "no vote",
    -5: "waiting for author",
    REJECTED: "rejected",
}


@dataclass(frozen=True, slots=True)
class Votes:
    """What the reviewers of one pull request stand on."""

    approvals: tuple[Approval, ...] = ()
    rejections: tuple[Rejection, ...] = ()


def ref_name(branch: str) -> str:
    return f"refs/heads/{branch}"


def lands(pull: Mapping[str, Any], commit: str, branch: str | None) -> bool:
    """Completed into `branch`, and its merge (or squash/rebase) commit is `commit`."""
    return (
        pull.get("status") == "completed"
        and branch is not None
        and pull.get("targetRefName") == ref_name(branch)
        and str(get(pull, "lastMergeCommit", "commitId")).lower() == commit.lower()
    )


def merge_problem(
    pulls: Sequence[Mapping[str, Any]], commit: str, branch: str | None, repository: str
) -> str:
    """Why no pull request in `pulls` brought `commit` onto `branch` ("" when one did)."""
    if any(lands(p, commit, branch) for p in pulls):
        return ""
    brought = f"commit {commit[:12]} that brought signoff.yaml in"
    completed = [p for p in pulls if p.get("status") == "completed"]
    if not completed:
        others = ", ".join(f"!{p.get('pullRequestId')} ({p.get('status')})" for p in pulls)
        return f"{brought} was not merged through a completed pull request of {repository}" + (
            f" (pull request {others} is not completed)" if others else " (a direct push?)"
        )
    if branch is None:
        return (
            f"the watched branch is not known (a detached checkout), so no pull request can be "
            f"shown to have merged {brought} into it; name it with --branch"
        )
    why = []
    for p in completed:
        number, into = p.get("pullRequestId"), str(p.get("targetRefName") or "")
        if into != ref_name(branch):
            why.append(f"!{number} was completed into {into!r}, not the watched {branch!r}")
        else:
            sha = str(get(p, "lastMergeCommit", "commitId"))[:12] or "(none)"
            why.append(f"!{number}'s merge commit is {sha}, not {commit[:12]}")
    return (
        f"no pull request merged {brought} into {branch!r}: "
        + "; ".join(why)
        + " (its votes are for a change that reached the branch some other way)"
    )


def final_iteration(iterations: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The pull request's last push (highest iteration id), or None when there is none."""
    numbered = [i for i in iterations if isinstance(i.get("id"), int)]
    return max(numbered, key=lambda i: int(i["id"])) if numbered else None


def vote_times(threads: Sequence[Mapping[str, Any]]) -> dict[str, tuple[datetime, int | None]]:
    """Each voter's latest vote record: normalized identity id -> (when, vote)."""
    latest: dict[str, tuple[datetime, int | None]] = {}
    for thread in threads:
        properties = thread.get("properties")
        if not isinstance(properties, Mapping) or thread.get("isDeleted") is True:
            continue
        if _property(properties, "CodeReviewThreadType") != "VoteUpdate":
            continue
        voter = _voter(thread, properties)
        when = parse_time(thread.get("publishedDate"))
        if not voter or when is None or _recorded_by(thread) != voter:
            continue  # properties are free-form: only the voter's own system record times it
        try:
            vote: int | None = int(str(_property(properties, "CodeReviewVoteResult")))
        except ValueError:
            vote = None
        if voter not in latest or latest[voter][0] <= when:
            latest[voter] = (when, vote)
    return latest


def judge_votes(
    pull: Mapping[str, Any],
    final: Mapping[str, Any],
    threads: Sequence[Mapping[str, Any]],
) -> Votes:
    """Approvals (with why any does not count) and rejections of `pull`'s reviewers."""
    creator = identity_id(get(pull, "createdBy", "id"))
    pushed = parse_time(final.get("createdDate"))
    iteration = final.get("id")
    times = vote_times(threads)
    approvals: list[Approval] = []
    rejections: list[Rejection] = []
    for reviewer in pull.get("reviewers") or ():
        if not isinstance(reviewer, Mapping) or reviewer.get("isContainer") is True:
            continue  # a group's vote is its members' votes, listed on their own
        vote = reviewer.get("vote")
        if not isinstance(vote, int) or isinstance(vote, bool):
            continue
        person = person_of(reviewer)
        source = f"vote {vote} ({VOTE_WORDS.get(vote, 'unknown')})"
        if vote == REJECTED:
            rejections.append(
                Rejection(person, source, required=reviewer.get("isRequired") is True)
            )
            continue
        if vote not in {APPROVED, APPROVED_WITH_SUGGESTIONS}:
            continue
        rid = identity_id(reviewer.get("id"))
        cast = times.get(rid)
        at = cast[0] if cast else None
        if rid and rid == creator:
            approvals.append(
                Approval(
                    person, source, at, Ignored.SELF, "created the pull request (self-approval)"
                )
            )
        elif cast is None:
            approvals.append(
                Approval(
                    person,
                    source,
                    None,
                    Ignored.STALE,
                    "has no vote record in the pull request's threads, so which push it "
                    "approved cannot be told",
                )
            )
        elif pushed is None or cast[0] < pushed:
            approvals.append(
                Approval(
                    person,
                    source,
                    at,
                    Ignored.STALE,
                    f"voted at {_stamp(cast[0])}, before the final push (iteration {iteration}"
                    + (f" at {_stamp(pushed)}" if pushed else ", whose time is unknown")
                    + "), so a later push was not approved",
                )
            )
        else:
            approvals.append(Approval(person, source, at))
    return Votes(tuple(approvals), tuple(rejections))


def authors(pull: Mapping[str, Any], commits: Sequence[Mapping[str, Any]]) -> list[Person]:
    """The pull request's creator and its commits' authors and committers (by e-mail)."""
    people = [person_of(pull.get("createdBy") or {})]
    for commit in commits:
        for role in ("author", "committer"):
            email = get(commit, role, "email")
            if isinstance(email, str) and "@" in email:
                people.append(Person(name=str(get(commit, role, "name")), email=email))
    return [p for p in people if p.email or p.login]


def person_of(identity: Mapping[str, Any]) -> Person:
    """An Azure DevOps identity as a principal: its uniqueName when that is an e-mail."""
    unique = str(identity.get("uniqueName") or "").strip()
    name = str(identity.get("displayName") or "").strip()
    email = unique if "@" in unique and "\\" not in unique and " " not in unique else ""
    return Person(name=name or unique, email=email)


def identity_id(value: object) -> str:
    """Identity ids as Azure DevOps writes them, with or without dashes, compared alike."""
    return str(value or "").replace("-", "").replace("{", "").replace("}", "").lower()


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, Mapping):
            return ""
        data = data.get(key)
    return data if data is not None else ""


def _property(properties: Mapping[str, Any], name: str) -> object:
    """A thread property's value: `{"$type": ..., "$value": ...}` (or a bare value)."""
    value = properties.get(name)
    if isinstance(value, Mapping):
        value = value.get("$value")
    return "" if value is None else value


def _voter(thread: Mapping[str, Any], properties: Mapping[str, Any]) -> str:
    """The voter's identity id: from the thread's identities map, else the TfId property."""
    index = str(_property(properties, "CodeReviewVotedByIdentity"))
    identities = thread.get("identities")
    if index and isinstance(identities, Mapping):
        ref = identities.get(index)
        if isinstance(ref, Mapping) and ref.get("id"):
            return identity_id(ref.get("id"))
    return identity_id(_property(properties, "CodeReviewVotedByTfId"))


def _recorded_by(thread: Mapping[str, Any]) -> str:
    """Who Azure DevOps wrote the thread's first comment as, when it is a system comment.

    Anyone who may comment can POST a thread whose properties claim a
    `VoteUpdate` by someone else; what they cannot choose is the comment's
    author, which for a real vote record is the voter.
    """
    comments = thread.get("comments")
    first = comments[0] if isinstance(comments, list) and comments else None
    if not isinstance(first, Mapping) or first.get("commentType") != "system":
        return ""
    return identity_id(get(first, "author", "id"))


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
