"""The azuredevops provider: a real git history, votes from a local Azure DevOps API stand-in."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import yaml
from ado_fake import (
    ORG,
    PREFIX,
    PROJECT,
    REPO,
    FakeAzureDevOps,
    commit_ref,
    identity,
    iteration,
    pull_request,
    reviewer,
    serve,
    text_thread,
    vote_thread,
)
from git_helpers import GitRepos
from signoff_helpers import ANA, BO, CARL, OFFER, OffersRepo, make_offers_repo, signoff_yaml

from controller.cli import build_parser
from controller.commands.wiring import judge_from_args
from controller.core.errors import UsageError
from controller.core.model import SignOffVerdict
from controller.git.repo import GitRepo
from controller.git.tree import GitTreeFiles
from controller.http import RetryPolicy
from controller.reconcile.reconciler import SignOffQuestion, Watch
from controller.repo.policy import (
    AzureDevOpsSettings,
    Policy,
    Provider,
    SignOffPolicy,
    parse_policy,
)
from controller.signoff import AzureDevOpsClient, AzureDevOpsEndpoint, evaluate_signoff
from controller.signoff.evidence_azuredevops import AzureDevOpsError
from controller.signoff.operator import azure_devops_endpoint

TOKEN = "adopat0s3cr3tT0kenValue52chars0000000000000000000000"  # made up; never in a verdict
SETTINGS = AzureDevOpsSettings(organization=ORG, project=PROJECT, repository=REPO)
ANA_ID = identity(*ANA)
BO_ID = identity(*BO)
CARL_ID = identity(*CARL)
PUSHED = "2026-11-20T09:00:00.1234567Z"  # the final iteration
VOTED = "2026-11-20T10:00:00.5Z"  # after it
EARLIER = "2026-11-20T08:30:00Z"  # before it


@pytest.fixture(scope="module")
def _server() -> Iterator[FakeAzureDevOps]:
    with serve(FakeAzureDevOps()) as server:
        yield server


@pytest.fixture
def fake(_server: FakeAzureDevOps) -> FakeAzureDevOps:
    """The operator's server: one per module (so the provider's client is reused, as in a
    daemon), emptied for each test."""
    return _server.reset(token=TOKEN)


@pytest.fixture
def repo(gitrepos: GitRepos) -> OffersRepo:
    return make_offers_repo(gitrepos)


def ado_policy(approvers: tuple[str, ...] = ("ana@contoso.com", "bo@contoso.com")) -> Policy:
    return Policy(
        signoff=SignOffPolicy(
            provider=Provider.AZURE_DEVOPS, approvers=approvers, azure_devops=SETTINGS
        )
    )


def completed_pr(
    repo: OffersRepo,
    fake: FakeAzureDevOps,
    votes: list[tuple[dict[str, Any], int, str]],
    *,
    creator: dict[str, Any] = CARL_ID,
    **pull: Any,
) -> tuple[str, str]:
    """Merge a sign-off branch; the fake says PR 7 (source = branch tip) completed it.

    `votes` are (reviewer, vote, when): the reviewer list's standing vote and
    the vote-update thread that timed it.
    """
    repo.branch_signoff(repo.generation())
    head = repo.head("signoff/x")
    merge = repo.merge()
    reviewers = [reviewer(who, vote) for who, vote, _ in votes]
    fake.pulls[7] = pull_request(
        7, creator, merge_sha=merge, source_sha=head, reviewers=reviewers, **pull
    )
    fake.iterations[7] = [iteration(1, head, PUSHED, creator)]
    fake.threads[7] = [text_thread(1, creator, PUSHED)] + [
        vote_thread(10 + i, who, vote, when) for i, (who, vote, when) in enumerate(votes)
    ]
    fake.commits[7] = [commit_ref(head, creator["displayName"], creator["uniqueName"])]
    return head, merge


def evaluate(repo: OffersRepo, fake: FakeAzureDevOps, pol: Policy | None = None) -> SignOffVerdict:
    # The operator names the server and the token (the repository cannot).
    return evaluate_signoff(
        repo.path,
        repo.head(),
        OFFER,
        repo.generation(),
        pol or ado_policy(),
        azure_devops=AzureDevOpsEndpoint(fake.base_url, TOKEN),
    )


def basic(token: str) -> str:
    return "Basic " + base64.b64encode(f":{token}".encode()).decode()


class TestVotes:
    def test_approved_vote_on_the_completed_pull_request_is_accepted(
        self, repo: OffersRepo, fake: FakeAzureDevOps
    ) -> None:
        _, merge = completed_pr(repo, fake, [(ANA_ID, 10, VOTED)])

        result = evaluate(repo, fake)

        assert result.valid, result.message
        assert result.reason == "SignOffAccepted"
        assert result.trust == "azure-devops-review"
        assert result.approvers == ("ana@contoso.com",)
        assert result.commit == merge
        assert result.pull_request == (
            f"{fake.base_url}/contoso/Offers%20Team/_git/offers/pullrequest/7"
        )
        assert result.approved_at is not None and result.approved_at.hour == 10
        # Every call went to the repository's path, with the operator's PAT as Basic auth.
        assert {r.path.rsplit("/", 1)[-1] for r in fake.requests} == {
            "pullrequestquery", "7", "iterations", "threads", "commits",
        }  # fmt: skip
        assert all(r.path.startswith(PREFIX) for r in fake.requests)
        assert all(r.headers.get("authorization") == basic(TOKEN) for r in fake.requests)
        assert TOKEN not in repr(result)

    def test_approved_with_suggestions_counts(
        self, repo: OffersRepo, fake: FakeAzureDevOps
    ) -> None:
        completed_pr(repo, fake, [(ANA_ID, 5, VOTED)])

        result = evaluate(repo, fake)

        assert result.valid, result.message
        assert result.approvers == ("ana@contoso.com",)

    def test_the_query_asks_for_the_merge_commit_both_ways(
        self, repo: OffersRepo, fake: FakeAzureDevOps
    ) -> None:
        _, merge = completed_pr(repo, fake, [(ANA_ID, 10, VOTED)])

        evaluate(repo, fake)

        (query,) = [r for r in fake.requests if r.method == "POST"]
        assert query.body == {
            "queries": [
                {"type": "lastMergeCommit", "items": [merge]},
                {"type": "commit", "items": [merge]},
            ]
        }
        assert query.headers["content-type"] == "application/json"

    def test_creator_voting_on_their_own_pull_request_is_self_approval(
        self, repo: OffersRepo, fake: FakeAzureDevOps
    ) -> None:
        completed_pr(repo, fake, [(ANA_ID, 10, VOTED)], creator=ANA_ID)

        result = evaluate(repo, fake)

        assert not result.valid
        assert result.reason == "SelfApproval"
        assert "created the pull request" in result.message

    def test_a_commit_author_approving_is_self_approval(
        self, repo: OffersRepo, fake: FakeAzureDevOps
    ) -> None:
        completed_pr(repo, fake, [(ANA_ID, 10, VOTED)])
        fake.commits[7].append(commit_ref("b" * 40, *ANA))

        assert evaluate(repo, fake).reason == "SelfApproval"

    def test_vote_cast_before_the_final_push_is_stale(
        self, repo: OffersRepo, fake: FakeAzureDevOps
    ) -> None:
        head, _ = completed_pr(repo, fake, [(ANA_ID, 10, EARLIER)])
        # Iteration 1 was approved; iteration 2 (the merged head) was pushed after the vote.
        fake.iterations[7] = [
            iteration(1, "a" * 40, "2026-11-20T08:00:00Z", CARL_ID),
            iteration(2, head, PUSHED, CARL_ID),
        ]

        result = evaluate(repo, fake)

        assert not result.valid
        assert result.reason == "StaleApproval"
        assert "before the final push (iteration 2" in result.message

    def test_a_vote_renewed_after_the_final_push_counts(
        self, repo: OffersRepo, fake: FakeAzureDevOps
    ) -> None:
        head, _ = completed_pr(repo, fake, [(ANA_ID, 10, EARLIER)])
        fake.iterations[7].append(iteration(2, head, PUSHED, CARL_ID))
        fake.iterations[7][0]["sourceRefCommit"] = {"commitId": "a" * 40}
        fake.threads[7].append(vote_thread(30, ANA_ID, 10, VOTED, by_index=False))

        result = evaluate(repo, fake)

        assert result.valid, result.message

    def test_a_vote_without_a_vote_record_cannot_be_placed(
        self, repo: OffersRepo, fake: FakeAzureDevOps
    ) -> None:
        completed_pr(repo, fake, [(ANA_ID, 10, VOTED)])
        fake.threads[7] = fake.threads[7][:1]  # only the comment thread

        result = evaluate(repo, fake)

        assert result.reason == "StaleApproval"
        assert "no vote record" in result.message

    def test_votes_reset_by_the_branch_policy_leave_nothing_approved(
        self, repo: OffersRepo, fake: FakeAzureDevOps
    ) -> None:
        completed_pr(repo, fake, [(ANA_ID, 10, EARLIER)])
        fake.pulls[7]["reviewers"][0]["vote"] = 0  # "reset votes on push"

        result = evaluate(repo, fake)

        assert result.reason == "NotReviewed"
        assert "without any approving review" in result.message

    def test_waiting_for_author_is_not_an_approval(
        self, repo: OffersRepo, fake: FakeAzureDevOps
    ) -> None:
        completed_pr(repo, fake, [(ANA_ID, -5, VOTED)])

        assert evaluate(repo, fake).reason == "NotReviewed"

    def test_rejection_by_an_authorized_approver_blocks_other_approvals(
        self, repo: OffersRepo, fake: FakeAzureDevOps
    ) -> None:
        completed_pr(repo, fake, [(ANA_ID, 10, VOTED), (BO_ID, -10, VOTED)])

        result = evaluate(repo, fake)

        assert not result.valid
        assert result.reason == "ReviewRejected"
        assert "Bo Reviewer <bo@contoso.com> (vote -10 (rejected), an authorized approver)" in (
            result.message
        )

    def test_rejection_by_a_required_reviewer_blocks_even_if_not_an_approver(
        self, repo: OffersRepo, fake: FakeAzureDevOps
    ) -> None:
        dee = identity("Dee Security", "dee@contoso.com")
        completed_pr(repo, fake, [(ANA_ID, 10, VOTED), (dee, -10, VOTED)])
        fake.pulls[7]["reviewers"][1]["isRequired"] = True

        result = evaluate(repo, fake)

        assert result.reason == "ReviewRejected"
        assert "a required reviewer" in result.message

    def test_rejection_by_an_optional_outsider_does_not_block(
        self, repo: OffersRepo, fake: FakeAzureDevOps
    ) -> None:
        eve = identity("Eve Outsider", "eve@elsewhere.example")
        completed_pr(repo, fake, [(ANA_ID, 10, VOTED), (eve, -10, VOTED)])

        assert evaluate(repo, fake).valid

    def test_unauthorized_reviewer_is_ignored(
        self, repo: OffersRepo, fake: FakeAzureDevOps
    ) -> None:
        completed_pr(repo, fake, [(identity("Mallory", "mallory@contoso.com"), 10, VOTED)])

        result = evaluate(repo, fake)

        assert result.reason == "UnauthorizedApprover"
        assert "mallory@contoso.com" in result.message

    def test_a_group_reviewer_never_votes_itself(
        self, repo: OffersRepo, fake: FakeAzureDevOps
    ) -> None:
        team = identity("[Offers Team]\\Release", "vstfs:///Classification/TeamProject/x\\Release")
        team["isContainer"] = True
        completed_pr(repo, fake, [(team, 10, VOTED)])

        assert evaluate(repo, fake).reason == "NotReviewed"

    def test_github_logins_as_approvers_are_explained(
        self, repo: OffersRepo, fake: FakeAzureDevOps
    ) -> None:
        completed_pr(repo, fake, [(ANA_ID, 10, VOTED)])

        result = evaluate(repo, fake, ado_policy(("@ana",)))

        assert result.reason == "UnauthorizedApprover"
        assert "@ana name GitHub accounts" in result.message

    def test_two_required_approvals_count_distinct_reviewers(
        self, repo: OffersRepo, fake: FakeAzureDevOps
    ) -> None:
        completed_pr(repo, fake, [(ANA_ID, 10, VOTED), (BO_ID, 5, VOTED)])
        pol = ado_policy()
        pol = Policy(
            signoff=SignOffPolicy(
                provider=Provider.AZURE_DEVOPS,
                approvers=pol.signoff.approvers,
                required_approvals=2,
                azure_devops=SETTINGS,
            )
        )

        result = evaluate(repo, fake, pol)

        assert result.valid, result.message
        assert set(result.approvers) == {"ana@contoso.com", "bo@contoso.com"}


class TestWhichPullRequest:
    def test_completed_into_another_branch_does_not_count(
        self, repo: OffersRepo, fake: FakeAzureDevOps
    ) -> None:
        completed_pr(repo, fake, [(ANA_ID, 10, VOTED)], target="refs/heads/sandbox")

        result = evaluate(repo, fake)

        assert not result.valid
        assert result.reason == "NotReviewed"
        assert "'refs/heads/sandbox', not the watched 'main'" in result.message

    def test_pull_request_whose_merge_commit_is_another_commit_does_not_count(
        self, repo: OffersRepo, fake: FakeAzureDevOps
    ) -> None:
        # An approved pull request merged elsewhere; the same content reached main another way.
        _, merge = completed_pr(repo, fake, [(ANA_ID, 10, VOTED)])
        fake.pulls[7]["lastMergeCommit"] = {"commitId": "e" * 40}
        fake.merged_commits[merge] = [7]  # the "commit" query still finds it

        result = evaluate(repo, fake)

        assert not result.valid
        assert result.reason == "NotReviewed"
        assert "merge commit is eeeeeeeeeeee" in result.message

    def test_active_pull_request_does_not_count(
        self, repo: OffersRepo, fake: FakeAzureDevOps
    ) -> None:
        completed_pr(repo, fake, [(ANA_ID, 10, VOTED)], status="active")

        result = evaluate(repo, fake)

        assert result.reason == "NotReviewed"
        assert "!7 (active) is not completed" in result.message

    def test_direct_push_has_no_pull_request(self, repo: OffersRepo, fake: FakeAzureDevOps) -> None:
        repo.commit(
            {f"offers/{OFFER}/signoff.yaml": signoff_yaml(repo.generation())}, "Sign off", CARL
        )

        result = evaluate(repo, fake)

        assert result.reason == "NotReviewed"
        assert "direct push" in result.message

    def test_merged_source_other_than_the_final_iteration_fails_closed(
        self, repo: OffersRepo, fake: FakeAzureDevOps
    ) -> None:
        completed_pr(repo, fake, [(ANA_ID, 10, VOTED)])
        fake.iterations[7][0]["sourceRefCommit"] = {"commitId": "c" * 40}

        result = evaluate(repo, fake)

        assert result.reason == "ReviewLookupFailed"
        assert "final iteration 1 is cccccccccccc" in result.message


class TestFailures:
    def test_a_wrong_token_gets_the_sign_in_page_and_fails_closed(
        self, repo: OffersRepo, fake: FakeAzureDevOps
    ) -> None:
        completed_pr(repo, fake, [(ANA_ID, 10, VOTED)])
        fake.token = "another-token"

        result = evaluate(repo, fake)

        assert result.reason == "ReviewLookupFailed"
        assert "sign-in page" in result.message
        assert TOKEN not in result.message

    def test_unknown_repository_is_a_404_with_a_hint(
        self, repo: OffersRepo, fake: FakeAzureDevOps
    ) -> None:
        completed_pr(repo, fake, [(ANA_ID, 10, VOTED)])
        other = AzureDevOpsSettings(organization=ORG, project=PROJECT, repository="elsewhere")
        pol = Policy(
            signoff=SignOffPolicy(
                provider=Provider.AZURE_DEVOPS, approvers=("ana@contoso.com",), azure_devops=other
            )
        )

        result = evaluate(repo, fake, pol)

        assert result.reason == "ReviewLookupFailed"
        assert "HTTP 404" in result.message and "TF401019" in result.message

    def test_unreachable_server_fails_closed(self, repo: OffersRepo) -> None:
        completed_pr(repo, FakeAzureDevOps(), [(ANA_ID, 10, VOTED)])

        result = evaluate_signoff(
            repo.path,
            repo.head(),
            OFFER,
            repo.generation(),
            ado_policy(),
            azure_devops=AzureDevOpsEndpoint("http://127.0.0.1:9", TOKEN),
        )

        assert result.reason == "ReviewLookupFailed"
        assert "cannot connect" in result.message

    def test_throttling_is_retried_then_reported_with_the_wait(self, fake: FakeAzureDevOps) -> None:
        fake.fail_with = (429, {"Retry-After": "37"})
        waits: list[float] = []
        policy = RetryPolicy(max_attempts=3, max_retry_after=60, sleep=waits.append)
        client = AzureDevOpsClient(SETTINGS, url=fake.base_url, token=TOKEN, policy=policy)
        try:
            with pytest.raises(AzureDevOpsError) as caught:
                client.threads(7)
        finally:
            client.close()

        assert waits == [37.0, 37.0]
        assert len(fake.requests) == 3
        assert caught.value.retry_after == 37
        assert "HTTP 429" in str(caught.value) and TOKEN not in str(caught.value)

    def test_commits_follow_continuation_tokens(self, fake: FakeAzureDevOps) -> None:
        fake.page_size = 2
        fake.commits[7] = [commit_ref(f"{i:040x}", "Carl", "carl@contoso.com") for i in range(5)]
        client = AzureDevOpsClient(SETTINGS, url=fake.base_url, token=TOKEN)
        try:
            commits = client.pull_commits(7)
        finally:
            client.close()

        assert [c["commitId"] for c in commits] == [f"{i:040x}" for i in range(5)]
        tokens = [r.query.get("continuationToken") for r in fake.requests]
        assert tokens == [None, ["2"], ["4"]]

    def test_an_entra_id_token_is_sent_as_a_bearer_token(self, fake: FakeAzureDevOps) -> None:
        jwt = "eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiI0OTliODRhYyJ9.c2lnbmF0dXJl"
        fake.token = None
        client = AzureDevOpsClient(SETTINGS, url=fake.base_url, token=jwt)
        try:
            client.iterations(7)
        finally:
            client.close()

        assert fake.requests[0].headers["authorization"] == f"Bearer {jwt}"

    def test_repr_never_shows_the_token(self, fake: FakeAzureDevOps) -> None:
        client = AzureDevOpsClient(SETTINGS, url=fake.base_url, token=TOKEN)
        client.close()

        assert TOKEN not in repr(client)
        assert TOKEN not in repr(AzureDevOpsEndpoint(fake.base_url, TOKEN))


class TestOperatorEndpoint:
    """The server URL and token come from the operator's flag or environment only."""

    def test_defaults_to_dev_azure_com_with_the_fixed_token_variable(self) -> None:
        env = {"OFFERCTL_AZURE_DEVOPS_TOKEN": TOKEN, "AZURE_DEVOPS_EXT_PAT": "other"}

        assert azure_devops_endpoint(None, env) == AzureDevOpsEndpoint(
            "https://dev.azure.com", TOKEN
        )

    def test_flag_wins_over_the_environment(self) -> None:
        env = {"OFFERCTL_AZURE_DEVOPS_URL": "https://ado.contoso.com/tfs"}

        assert azure_devops_endpoint("https://other.example/tfs/", env).url == (
            "https://other.example/tfs"
        )
        assert azure_devops_endpoint(None, env).url == "https://ado.contoso.com/tfs"

    @pytest.mark.parametrize(
        "url",
        ["http://dev.azure.com", "https://user:pat@dev.azure.com", "https://dev.azure.com/?x=1"],
    )
    def test_plain_http_credentials_and_queries_are_refused(self, url: str) -> None:
        with pytest.raises(UsageError, match="https"):
            azure_devops_endpoint(url, {})


class TestPolicy:
    HEAD = {"apiVersion": "offers.marketplace/v1", "kind": "Publishing"}

    def test_the_repository_names_organization_project_and_repository(self) -> None:
        ado = {"organization": ORG, "project": PROJECT, "repository": REPO}
        policy, findings = parse_policy(
            {**self.HEAD, "signoff": {"provider": "azuredevops", "azureDevOps": ado}}
        )

        assert findings == []
        assert policy.signoff.provider is Provider.AZURE_DEVOPS
        assert policy.signoff.azure_devops == SETTINGS

    def test_the_provider_without_a_repository_blocks_sign_off(self) -> None:
        policy, findings = parse_policy({**self.HEAD, "signoff": {"provider": "azuredevops"}})

        assert [f.code for f in findings] == ["AzureDevOpsRepositoryMissing"]
        assert policy.signoff.problems

    @pytest.mark.parametrize("segment", ["../evil", "a/b", "x@evil.example", "host:443", "%2e%2e"])
    def test_a_segment_that_could_leave_its_path_is_refused(self, segment: str) -> None:
        ado = {"organization": segment, "project": PROJECT, "repository": REPO}
        policy, findings = parse_policy(
            {**self.HEAD, "signoff": {"provider": "azuredevops", "azureDevOps": ado}}
        )

        assert findings and policy.signoff.problems
        assert policy.signoff.azure_devops.organization == ""

    def test_url_and_token_variable_are_the_operators_and_only_warned_about(self) -> None:
        ado = {
            "organization": ORG,
            "project": PROJECT,
            "repository": REPO,
            "url": "https://attacker.example",
            "tokenEnv": "OFFERCTL_WEBHOOK_SECRET",
        }
        policy, findings = parse_policy(
            {**self.HEAD, "signoff": {"provider": "azuredevops", "azureDevOps": ado}}
        )

        assert {(f.path, f.code, f.severity.value) for f in findings} == {
            ("$.signoff.azureDevOps.url", "MovedToOperator", "warning"),
            ("$.signoff.azureDevOps.tokenEnv", "MovedToOperator", "warning"),
        }
        assert policy.signoff.problems == ()
        assert "--azure-devops-url" in " ".join(f.message for f in findings)


# ---------------------------------------------------------------- credentials


@dataclass
class Recorder:
    """Any HTTP server: records every request's method, path and headers; answers {}."""

    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    base_url: str = ""


@pytest.fixture(scope="module")
def attacker() -> Iterator[Recorder]:
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _any(self) -> None:
            recorder.requests.append((self.command, self.path, dict(self.headers.items())))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_GET = do_POST = _any

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def hostile_policy(url: str) -> str:
    """A publishing.yaml choosing azuredevops that also tries to name the server and token."""
    return (
        "apiVersion: offers.marketplace/v1\nkind: Publishing\nsignoff:\n"
        "  provider: azuredevops\n  approvers: [ana@contoso.com]\n"
        f"  azureDevOps: {{organization: {ORG}, project: {PROJECT}, repository: {REPO},\n"
        f"    url: '{url}', tokenEnv: OFFERCTL_WEBHOOK_SECRET}}\n"
    )


SECRET = "whsec-0123456789abcdef"  # made up; must reach no one


class TestCredentialsGoOnlyToTheOperator:
    """No file in the repository picks the host the token goes to, or which variable is read."""

    def test_the_flag_names_the_server_and_the_pull_requests_url_gets_nothing(
        self,
        repo: OffersRepo,
        fake: FakeAzureDevOps,
        attacker: Recorder,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        attacker.requests.clear()
        # A merged change chooses azuredevops and points url/tokenEnv at another host.
        repo.commit({"publishing.yaml": hostile_policy(attacker.base_url)}, "Use ADO", ANA)
        completed_pr(repo, fake, [(ANA_ID, 10, VOTED)])
        monkeypatch.setenv("OFFERCTL_AZURE_DEVOPS_TOKEN", TOKEN)
        monkeypatch.setenv("OFFERCTL_WEBHOOK_SECRET", SECRET)
        monkeypatch.setenv("OFFERCTL_AZURE_DEVOPS_URL", attacker.base_url)  # the flag wins
        args = build_parser().parse_args(
            ["reconcile", "--repo", str(repo.path), "--azure-devops-url", fake.base_url]
        )
        commit = repo.head()
        text = repo.git("show", f"{commit}:publishing.yaml")
        policy = parse_policy(yaml.safe_load(text))[0]

        with GitRepo(repo.path) as opened:
            judge = judge_from_args(args, opened, Watch(branch="main"))
            files = GitTreeFiles(opened.snapshot(commit))
            verdict = judge(SignOffQuestion(OFFER, repo.generation(), commit, files, policy))

        assert verdict is not None and verdict.valid, verdict and verdict.message
        assert verdict.trust == "azure-devops-review"
        assert attacker.requests == []
        assert fake.requests
        assert all(r.headers.get("authorization") == basic(TOKEN) for r in fake.requests)
        assert SECRET not in json.dumps([r.headers for r in fake.requests])

    @pytest.mark.slow
    def test_plan_on_a_pull_request_naming_another_server_sends_nothing_there(
        self, repo: OffersRepo, fake: FakeAzureDevOps, attacker: Recorder
    ) -> None:
        # As the shipped CI job does: `offerctl plan` on the unmerged pull request's checkout.
        attacker.requests.clear()
        completed_pr(repo, fake, [(ANA_ID, 10, VOTED)])
        repo.git("checkout", "-q", "-b", "pr/tidy-publishing")
        repo.commit({"publishing.yaml": hostile_policy(attacker.base_url)}, "Tidy", CARL)
        base = {k: v for k, v in os.environ.items() if not k.startswith("OFFERCTL_")}
        env = {
            **base,
            "OFFERCTL_AZURE_DEVOPS_URL": fake.base_url,
            "OFFERCTL_AZURE_DEVOPS_TOKEN": TOKEN,
            "OFFERCTL_WEBHOOK_SECRET": SECRET,
        }

        proc = subprocess.run(
            [sys.executable, "-m", "controller", "plan", "--repo", str(repo.path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

        assert attacker.requests == []
        assert fake.requests, proc.stdout + proc.stderr  # the sign-off was judged
        assert all(r.headers.get("authorization") == basic(TOKEN) for r in fake.requests)
        seen = proc.stdout + proc.stderr + json.dumps([r.headers for r in fake.requests])
        assert TOKEN not in proc.stdout + proc.stderr
        assert SECRET not in seen
        for key in ("$.signoff.azureDevOps.url", "$.signoff.azureDevOps.tokenEnv"):
            assert f"warning: publishing.yaml: {key}" in proc.stderr
