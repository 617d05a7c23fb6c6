"""`offerctl signoff OFFER`: the branch it makes, what it prints, and what it refuses."""

from __future__ import annotations

import pytest
from git_helpers import GitRepos
from signoff_helpers import ANA, CARL, OFFER, OffersRepo, make_offers_repo

from controller.cli import main
from controller.git.repo import GitRepo
from controller.reconcile.reconciler import policy_at
from controller.repo.policy import ApprovalTrust, Policy, SignOffPolicy
from controller.signoff import evaluate_signoff
from controller.signoff.document import parse_signoff

GEN = "sha256:" + "ab" * 32


def status_yaml(phase: str, gen: str = GEN) -> str:
    return (
        "# Written by offerctl. Edits here are overwritten.\n"
        f"offer: {OFFER}\nobservedGeneration: {gen}\ntarget: live\nphase: {phase}\n"
        "conditions: []\nstages: []\nfeedback: []\n"
    )


@pytest.fixture
def repo(gitrepos: GitRepos) -> OffersRepo:
    repo = make_offers_repo(gitrepos)
    repo.commit(
        {f"offers/{OFFER}/status.yaml": status_yaml("AwaitingSignOff", repo.generation())},
        "Update status",
        ("offerctl", "offerctl@localhost"),
    )
    return repo


def signoff(repo: OffersRepo, *extra: str) -> int:
    return main(["signoff", OFFER, "--repo", str(repo.path), *extra])


def test_creates_one_commit_branch_without_touching_the_worktree(
    repo: OffersRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    before = repo.head()
    (repo.path / "scratch.txt").write_text("uncommitted work\n")
    repo.git("add", "scratch.txt")
    staged_before = repo.git("diff", "--cached", "--name-only")

    assert signoff(repo, "--note", "Checked the preview") == 0

    gen = repo.generation()
    branch = f"signoff/{OFFER}-{gen.removeprefix('sha256:')[:12]}"
    tip = repo.head(branch)
    assert repo.git("rev-list", "--count", f"{before}..{tip}").strip() == "1"
    assert repo.git("rev-parse", f"{tip}^").strip() == before
    assert repo.git("diff", "--name-only", before, tip).split() == [f"offers/{OFFER}/signoff.yaml"]
    parsed = parse_signoff(
        repo.git("show", f"{tip}:offers/{OFFER}/signoff.yaml").encode(), name="signoff.yaml"
    )
    assert parsed.document is not None
    assert parsed.document.generation == gen
    assert parsed.document.note == "Checked the preview"
    # the user's branch, index and working tree are as they were
    assert repo.head() == before
    assert repo.git("symbolic-ref", "--short", "HEAD").strip() == "main"
    assert repo.git("diff", "--cached", "--name-only") == staged_before
    assert (repo.path / "scratch.txt").read_text() == "uncommitted work\n"
    out = capsys.readouterr().out
    assert f"git push origin {branch}" in out
    assert "ana@contoso.com" in out and "bo@contoso.com" in out


def test_the_branch_merged_with_approval_is_accepted(repo: OffersRepo) -> None:
    assert signoff(repo) == 0
    branch = repo.git("branch", "--list", "signoff/*").strip()
    repo.merge(branch, trailers=("Approved-by: Ana Approver <ana@contoso.com>",))

    result = evaluate_signoff(
        repo.path,
        repo.head(),
        OFFER,
        repo.generation(),
        Policy(
            signoff=SignOffPolicy(approvers=("ana@contoso.com",), trust=ApprovalTrust.PUSH_ACCESS)
        ),
    )
    assert result.valid, result.message


def test_the_person_running_it_cannot_approve_it(repo: OffersRepo) -> None:
    # The commit is authored by whoever runs the command: here Ana.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GIT_AUTHOR_NAME", ANA[0])
        mp.setenv("GIT_AUTHOR_EMAIL", ANA[1])
        assert signoff(repo) == 0
    branch = repo.git("branch", "--list", "signoff/*").strip()
    repo.merge(branch, trailers=("Approved-by: Ana Approver <ana@contoso.com>",))

    result = evaluate_signoff(
        repo.path,
        repo.head(),
        OFFER,
        repo.generation(),
        Policy(
            signoff=SignOffPolicy(approvers=("ana@contoso.com",), trust=ApprovalTrust.PUSH_ACCESS)
        ),
    )
    assert result.reason == "SelfApproval"


@pytest.mark.parametrize("phase", ["Certifying", "Live", "Preview", "Publishing", "Invalid"])
def test_refuses_unless_awaiting_signoff(
    repo: OffersRepo, phase: str, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit({f"offers/{OFFER}/status.yaml": status_yaml(phase)}, "status", CARL)

    assert signoff(repo) == 1

    err = capsys.readouterr().err
    assert f"is {phase}, not AwaitingSignOff" in err
    assert repo.git("branch", "--list", "signoff/*") == ""


def test_refuses_an_offer_without_status(
    repo: OffersRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit({f"offers/{OFFER}/status.yaml": None}, "drop status", CARL)

    assert signoff(repo) == 1
    assert "no status yet" in capsys.readouterr().err


def test_refuses_an_unknown_offer(repo: OffersRepo, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["signoff", "no-such-offer", "--repo", str(repo.path)]) == 1
    assert "no offers/no-such-offer/offer.yaml" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["../etc", "-rf", "UPPER", "a"])
def test_rejects_ids_that_are_not_offer_ids(repo: OffersRepo, bad: str) -> None:
    assert main(["signoff", "--repo", str(repo.path), "--", bad]) == 2


def test_running_twice_reuses_the_branch(
    repo: OffersRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert signoff(repo) == 0
    first = repo.git("for-each-ref", "refs/heads/signoff/")

    assert signoff(repo) == 0

    assert repo.git("for-each-ref", "refs/heads/signoff/") == first
    assert "already holds this sign-off" in capsys.readouterr().out


def test_a_different_branch_of_the_same_name_is_never_overwritten(
    repo: OffersRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    gen = repo.generation()
    branch = f"signoff/{OFFER}-{gen.removeprefix('sha256:')[:12]}"
    repo.git("branch", branch)
    before = repo.head(branch)

    assert signoff(repo) == 1

    assert repo.head(branch) == before
    assert "already exists" in capsys.readouterr().err


def test_already_signed_off_at_head_says_so(
    repo: OffersRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert signoff(repo) == 0
    branch = repo.git("branch", "--list", "signoff/*").strip()
    repo.merge(branch, trailers=("Approved-by: Ana Approver <ana@contoso.com>",))
    capsys.readouterr()

    assert signoff(repo) == 0
    assert "already signs off" in capsys.readouterr().out


@pytest.mark.parametrize(
    "broken",
    [
        "signoff: [approvers\n",  # not YAML
        "- just\n- a list\n",  # YAML, but not a mapping
    ],
)
def test_a_broken_publishing_yaml_says_fix_it_as_the_controller_refuses(
    repo: OffersRepo, capsys: pytest.CaptureFixture[str], broken: str
) -> None:
    """The command and the controller read publishing.yaml one way (repo.readback): while it
    is broken no sign-off counts, so the next steps must not send anyone collecting
    CODEOWNERS approvals (they used to)."""
    repo.commit(
        {"CODEOWNERS": "* @octocat\n", "publishing.yaml": broken},
        "Break the policy",
        CARL,
    )
    assert signoff(repo, "--no-sign") == 0
    out = capsys.readouterr().out
    assert "fix publishing.yaml's signoff settings first: publishing.yaml at " in out
    assert "get 1 approval" not in out and "octocat" not in out

    with GitRepo(repo.path) as controller_repo:
        controller_policy = policy_at(controller_repo, repo.head())
    assert controller_policy.signoff.problems, "the controller voids sign-off on it"
    assert controller_policy.signoff.problems[0] in out
