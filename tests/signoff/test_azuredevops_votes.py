"""azuredevops_votes: Azure DevOps' JSON in, plain evidence out (no git, no HTTP)."""

from __future__ import annotations

from typing import Any

from ado_fake import identity, iteration, pull_request, reviewer, vote_thread

from controller.signoff import azuredevops_votes as votes
from controller.signoff.rules import Ignored

ANA = identity("Ana Approver", "ana@contoso.com")
CARL = identity("Carl Author", "carl@contoso.com")
MERGE, HEAD = "a" * 40, "b" * 40
FINAL = iteration(2, HEAD, "2026-11-20T09:00:00Z", CARL)


def pull(*reviewers: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return pull_request(7, CARL, merge_sha=MERGE, source_sha=HEAD, reviewers=list(reviewers), **kw)


def test_only_a_completed_pull_request_into_the_branch_with_this_merge_commit_lands() -> None:
    assert votes.lands(pull(), MERGE, "main")
    assert votes.lands(pull(), MERGE.upper(), "main")
    assert not votes.lands(pull(), MERGE, None)
    assert not votes.lands(pull(), MERGE, "release")
    assert not votes.lands(pull(status="abandoned"), MERGE, "main")
    assert not votes.lands(pull(), HEAD, "main")


def test_the_latest_vote_record_per_voter_wins_whatever_the_thread_order() -> None:
    later = vote_thread(2, ANA, 10, "2026-11-20T10:00:00Z")
    earlier = vote_thread(1, ANA, -5, "2026-11-20T08:00:00Z", by_index=False)
    deleted = {**vote_thread(3, ANA, 0, "2026-11-20T11:00:00Z"), "isDeleted": True}

    times = votes.vote_times([later, earlier, deleted])

    (when, vote) = times[votes.identity_id(ANA["id"])]
    assert (when.hour, vote) == (10, 10)


def test_identity_ids_match_with_or_without_dashes_and_braces() -> None:
    dashed = "D6245F20-2AF8-44F4-9451-8107CB2767DB"

    assert votes.identity_id(dashed) == votes.identity_id("{d6245f202af844f494518107cb2767db}")


def test_a_vote_after_the_final_push_counts_and_one_before_is_stale() -> None:
    bo = identity("Bo Reviewer", "bo@contoso.com")
    threads = [
        vote_thread(1, ANA, 10, "2026-11-20T09:30:00Z"),
        vote_thread(2, bo, 5, "2026-11-20T08:59:59Z"),
    ]

    standing = votes.judge_votes(pull(reviewer(ANA, 10), reviewer(bo, 5)), FINAL, threads)

    ana, bo_vote = standing.approvals
    assert ana.ignored is None and ana.person.email == "ana@contoso.com"
    assert bo_vote.ignored is Ignored.STALE and "iteration 2" in bo_vote.ignored_why


def test_rejections_keep_whether_the_reviewer_was_required() -> None:
    threads = [vote_thread(1, ANA, -10, "2026-11-20T09:30:00Z")]

    standing = votes.judge_votes(pull(reviewer(ANA, -10, required=True)), FINAL, threads)

    assert standing.approvals == ()
    assert [(r.person.email, r.required) for r in standing.rejections] == [
        ("ana@contoso.com", True)
    ]


def test_an_on_premises_account_name_is_not_mistaken_for_an_email() -> None:
    person = votes.person_of({"uniqueName": "CONTOSO\\ana", "displayName": "Ana"})

    assert person.email == "" and person.label() == "Ana"


def test_merge_problem_names_each_pull_request_and_why() -> None:
    elsewhere = pull(target="refs/heads/sandbox")
    other_merge = pull_request(8, CARL, merge_sha="e" * 40, source_sha=HEAD, reviewers=[])

    note = votes.merge_problem([elsewhere, other_merge], MERGE, "main", "contoso/Offers/offers")

    assert "!7 was completed into 'refs/heads/sandbox', not the watched 'main'" in note
    assert "!8's merge commit is eeeeeeeeeeee, not aaaaaaaaaaaa" in note
    assert votes.merge_problem([pull()], MERGE, "main", "r") == ""
