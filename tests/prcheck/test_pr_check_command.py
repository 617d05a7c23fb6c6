"""`offerctl pr-check` end to end: a real git repository, the real CLI, a local GitHub.

The GitHub API is a server on 127.0.0.1 speaking the Checks and Statuses
JSON (checks_fake.py); it records every request, so the tests see what was
sent where, with which token. A second server stands where a pull request
or the runner could point (GITHUB_API_URL): it must hear nothing.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from checks_fake import REPO, FakeChecks, serve
from git_helpers import GitRepos, git

from controller import cli
from controller.core.model import (
    Finding,
    OfferStatus,
    Phase,
    Stage,
    StageState,
    StageStatus,
    Target,
)
from controller.prcheck import report
from controller.prcheck.github import ChecksPoster, PostError
from controller.repo import status
from controller.signoff.operator import GitHubEndpoint

EXAMPLES = Path(__file__).resolve().parents[2] / "offers"
OFFER = "contoso-field-insights"  # target live: it waits for a sign-off
GEN = "sha256:" + "5e" * 32
PREVIEW = "https://appsource.microsoft.com/preview/contoso-field-insights?token=p"
OPERATOR_TOKEN = "ghs_operator0123456789"  # made up
ACTIONS_TOKEN = "ghs_actions9876543210"  # made up: GITHUB_TOKEN, never to be read
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

SIGNOFF = f"""\
apiVersion: offers.marketplace/v1
kind: SignOff
offer: {OFFER}
generation: {GEN}
note: checked the preview
"""


@dataclass(frozen=True)
class PullRequest:
    repo: Path
    base: str
    head: str


def _status() -> str:
    done = StageState.SUCCEEDED
    return status.render(
        OfferStatus(
            offer=OFFER,
            phase=Phase.AWAITING_SIGNOFF,
            target=Target.LIVE,
            observed_generation=GEN,
            stages=(
                StageStatus(Stage.VALIDATION, done, T0, T0),
                StageStatus(Stage.CERTIFICATION, done, T0, T0),
                StageStatus(Stage.PACKAGING, done, T0, T0),
                StageStatus(Stage.SIGNOFF, StageState.RUNNING, T0),
            ),
            preview_url=PREVIEW,
        )
    )


def _pull_request(gitrepos: GitRepos, files: dict[str, str | None]) -> PullRequest:
    """main: the offer and its committed status; branch `pr` (checked out) adds `files`."""
    repo = gitrepos.init("offers-repo")
    shutil.copytree(EXAMPLES / OFFER, repo / "offers" / OFFER)
    (repo / "offers" / OFFER / "status.yaml").write_text(_status())
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "offer, and the controller's status")
    base = gitrepos.head(repo)
    git(repo, "checkout", "-q", "-b", "pr")
    head = gitrepos.commit(repo, files, "pull request")
    return PullRequest(repo, base, head)


@pytest.fixture
def actions_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """GitHub Actions' variables for a pull_request event; the step summary file."""
    for name in ("OFFERCTL_GITHUB_API_URL", "OFFERCTL_GITHUB_TOKEN", "OFFERCTL_MARKETPLACE",
                 "GITHUB_BASE_REF", "GITHUB_RUN_ID", "GITHUB_SERVER_URL"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("GITHUB_TOKEN", ACTIONS_TOKEN)
    monkeypatch.setenv("GITHUB_SHA", "ee" * 20)  # the merge commit: not where checks go
    return summary


def _event(tmp_path: Path, head: str, monkeypatch: pytest.MonkeyPatch) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "opened", "pull_request": {"head": {"sha": head}}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))


def test_pr_check_posts_a_check_run_with_the_signoff_and_writes_the_step_summary(
    gitrepos: GitRepos,
    actions_env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pr = _pull_request(gitrepos, {f"offers/{OFFER}/signoff.yaml": SIGNOFF})
    _event(tmp_path, pr.head, monkeypatch)
    monkeypatch.setenv("OFFERCTL_GITHUB_TOKEN", OPERATOR_TOKEN)
    with serve() as github, serve() as decoy:
        monkeypatch.setenv("GITHUB_API_URL", decoy.base_url)  # the runner's; not the operator's
        code = cli.main(
            ["pr-check", "--repo", str(pr.repo), "--base", "main",
             "--github-api-url", github.base_url]
        )  # fmt: skip
    out, err = capsys.readouterr()

    assert code == 0, err
    assert decoy.requests == []
    assert [(r.method, r.path) for r in github.requests] == [("POST", f"/repos/{REPO}/check-runs")]
    sent = github.requests[0]
    assert sent.headers["authorization"] == f"Bearer {OPERATOR_TOKEN}"
    assert sent.headers["accept"] == "application/vnd.github+json"
    assert sent.headers["x-github-api-version"] == "2022-11-28"
    body = sent.body
    assert body["name"] == "offerctl" and body["status"] == "completed"
    assert body["head_sha"] == pr.head  # the pull request's head, not GITHUB_SHA
    assert body["conclusion"] == "success"
    assert body["output"]["title"].startswith("1 offer valid")
    assert body["output"]["annotations"] == []
    summary = body["output"]["summary"]
    assert f"signs off generation `{GEN}`" in summary
    assert f"the generation the controller last committed at `{pr.base[:12]}`" in summary
    assert f"Preview: <{PREVIEW}>" in summary
    assert OFFER in summary and "| Contoso Field Insights" in summary
    assert f"posted check run 4000 on {pr.head[:12]} of {REPO}" in err

    written = actions_env.read_text()
    assert written.startswith("## offerctl pr-check\n") and written.strip() == out.strip()
    assert f"signs off generation `{GEN}`" in written
    for everything in (out, err, written, json.dumps(body)):
        assert OPERATOR_TOKEN not in everything and ACTIONS_TOKEN not in everything


def test_a_token_that_may_not_create_check_runs_gets_a_commit_status(
    gitrepos: GitRepos,
    actions_env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest = (EXAMPLES / OFFER / "offer.yaml").read_text()
    broken = manifest.replace("target: live", "target: sideways", 1)
    assert broken != manifest
    pr = _pull_request(gitrepos, {f"offers/{OFFER}/offer.yaml": broken})
    _event(tmp_path, pr.head, monkeypatch)
    monkeypatch.setenv("OFFERCTL_GITHUB_TOKEN", OPERATOR_TOKEN)
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_RUN_ID", "77")
    with serve(FakeChecks(refuse_check_runs="forbidden")) as github:
        code = cli.main(["pr-check", "--repo", str(pr.repo), "--github-api-url", github.base_url])
    out, err = capsys.readouterr()

    assert code == 1  # validation failed: the exit status follows it
    assert [(r.method, r.path) for r in github.requests] == [
        ("POST", f"/repos/{REPO}/check-runs"),
        ("POST", f"/repos/{REPO}/statuses/{pr.head}"),
    ]
    failure = github.requests[0].body["output"]["annotations"]
    assert failure and failure[0]["path"] == f"offers/{OFFER}/offer.yaml"
    assert failure[0]["annotation_level"] == "failure" and failure[0]["start_line"] > 1
    assert github.statuses == [
        (
            pr.head,
            {
                "state": "failure",
                "context": "offerctl",
                "description": github.statuses[0][1]["description"],
                "target_url": f"https://github.com/{REPO}/actions/runs/77",
            },
        )
    ]
    assert github.statuses[0][1]["description"].startswith("1 of 1 offer invalid: 1 error")
    assert all(r.headers["authorization"] == f"Bearer {OPERATOR_TOKEN}" for r in github.requests)
    assert "posted a commit status" in err and "Resource not accessible by integration" in err
    assert "sideways" in out  # the finding is in the summary too
    assert "### Findings (1)" in actions_env.read_text()


def test_without_the_operators_token_nothing_is_sent_and_githubs_own_is_not_read(
    gitrepos: GitRepos,
    actions_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pr = _pull_request(gitrepos, {"README.md": "hello\n"})
    with serve() as github:
        code = cli.main(
            ["pr-check", "--repo", str(pr.repo), "--sha", pr.head,
             "--github-api-url", github.base_url, "-o", "json"]
        )  # fmt: skip
    out, err = capsys.readouterr()

    assert code == 0, err
    assert github.requests == []
    assert "not posting to GitHub: OFFERCTL_GITHUB_TOKEN is not set" in err
    document = json.loads(out)
    assert document["headSha"] == pr.head and document["conclusion"] == "success"
    assert document["checkRun"]["name"] == "offerctl"
    assert "### Sign-off" not in document["summary"]  # no signoff.yaml in this pull request
    assert actions_env.read_text().startswith("## offerctl pr-check")


def test_a_bad_base_or_repository_is_a_usage_error(
    gitrepos: GitRepos, actions_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pr = _pull_request(gitrepos, {"README.md": "hello\n"})
    assert cli.main(["pr-check", "--repo", str(pr.repo), "--base", "nope", "--no-post"]) == 2
    assert "--base nope" in capsys.readouterr().err
    assert cli.main(["pr-check", "--repo", str(pr.repo), "--github-repo", "../x"]) == 2
    assert "not a GitHub repository" in capsys.readouterr().err


# ---------------------------------------------------------------- the poster on its own


@dataclass(frozen=True)
class Result:
    offer_id: str
    file: str
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return False


def _facts(count: int) -> report.CheckFacts:
    findings = tuple(
        Finding(f"C{n}", f"problem {n}", file="offers/a/offer.yaml", line=n + 1)
        for n in range(count)
    )
    return report.CheckFacts(results=[Result("a", "offers/a/offer.yaml", findings)], offers=[],
                             now=T0, commit="ab" * 20)  # fmt: skip


def test_51_annotations_are_one_create_and_one_update_on_the_wire() -> None:
    facts = _facts(51)
    sha = "ab" * 20
    with serve() as github, ChecksPoster(GitHubEndpoint(github.base_url, "t0k"), REPO) as poster:
        posted = poster.publish(sha, report.check_run(facts, sha), report.commit_status(facts))

    assert posted.kind == "check-run" and posted.check_run_id == 4000
    assert [(r.method, r.path) for r in github.requests] == [
        ("POST", f"/repos/{REPO}/check-runs"),
        ("PATCH", f"/repos/{REPO}/check-runs/4000"),
    ]
    assert [len(r.body["output"]["annotations"]) for r in github.requests] == [50, 1]
    stored = github.runs[4000]["annotations"]
    assert [a["message"] for a in stored] == [f"problem {n}" for n in range(51)]


def test_a_rate_limit_is_not_mistaken_for_a_missing_permission() -> None:
    facts = _facts(1)
    sha = "ab" * 20
    with (
        serve(FakeChecks(refuse_check_runs="rate-limited")) as github,
        ChecksPoster(GitHubEndpoint(github.base_url, "t0k"), REPO) as poster,
        pytest.raises(PostError, match="rate limit") as caught,
    ):
        poster.publish(sha, report.check_run(facts, sha), report.commit_status(facts))
    assert [r.method for r in github.requests] == ["POST"]  # no status fallback
    assert "t0k" not in str(caught.value) and github.statuses == []
