"""Issue 10, items 3-5: who may send credentials where, and what makes an approval real.

Each attack runs through the public command line (`python -m controller
reconcile / plan / signoff`) on a real git repository holding a shipped
example offer, with real ssh keys from `ssh-keygen` and commits signed by
`git commit -S` / `git merge -S` with gpg.format=ssh. The github provider
reads a local server speaking GitHub's JSON (tests/signoff/github_fake.py).

The publishing.yaml files here use only keys today's main also accepts, so
every attack is judged by both versions the same way up to the verdict.
Bringing an offer to AwaitingSignOff takes a few passes, so each policy's
repository is built once per module and copied for each test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from git_helpers import GitRepos, git

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "signoff"))

from github_fake import REPO, FakeGitHub, pr_commit, pull, review, serve
from signoff_helpers import SshKey, make_key

# Each step is a real `python -m controller` process: seconds apiece on a loaded machine.
pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "offers"
OFFER = "contoso-field-insights"  # target live: waits for a sign-off
SIGNOFF = f"offers/{OFFER}/signoff.yaml"
SIGNERS = ".github/allowed_signers"
RITA = ("Rita Reviewer", "rita@contoso.com")  # the approver
DANA = ("Dana Publisher", "dana@contoso.com")  # a publisher: may push, may not approve
BOB = ("Bob Builder", "bob@contoso.com")
RITA_OK = f"Approved-by: {RITA[0]} <{RITA[1]}>"
WEBHOOK_SECRET = "whsec-0123456789abcdef"  # made up; must reach no one
MARKET_TOKEN = "mkt-0123456789abcdef"  # made up
OPERATOR_TOKEN = "ghp_operator0123456789"  # made up
PASS_TIMEOUT = 60.0
MAX_PASSES = 12

GIT_POLICY = f"""\
apiVersion: offers.marketplace/v1
kind: Publishing
signoff:
  provider: git
  approvers: [{RITA[1]}]
  allowedSignersFile: {SIGNERS}
"""


def who(person: tuple[str, str]) -> dict[str, str]:
    return {
        "GIT_AUTHOR_NAME": person[0],
        "GIT_AUTHOR_EMAIL": person[1],
        "GIT_COMMITTER_NAME": person[0],
        "GIT_COMMITTER_EMAIL": person[1],
    }


def signing(key: SshKey) -> list[str]:
    return ["-c", "gpg.format=ssh", "-c", f"user.signingKey={key.private}"]


@dataclass
class Offers:
    """One offers repository on main, reconciled in place by the real command line."""

    path: Path
    keys: dict[str, SshKey]
    env: dict[str, str] = field(default_factory=dict)

    def offerctl(
        self, *args: str, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("OFFERCTL_", "GITHUB_"))}
        return subprocess.run(
            [sys.executable, "-m", "controller", *args],
            env={**base, **self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=PASS_TIMEOUT,
            check=False,
        )

    def reconcile(self) -> None:
        proc = self.offerctl(
            "reconcile", "--repo", str(self.path), "--branch", "main",
            "--marketplace", "sim", "--time-scale", "1000000",
        )  # fmt: skip
        assert proc.returncode in (0, 1), proc.stderr

    def status(self) -> dict[str, Any]:
        text = git(self.path, "show", f"main:offers/{OFFER}/status.yaml")
        data = yaml.safe_load(text)
        assert isinstance(data, dict)
        return data

    def until_awaiting_signoff(self) -> str:
        for _ in range(MAX_PASSES):
            self.reconcile()
            if self.status()["phase"] == "AwaitingSignOff":
                return str(self.status()["observedGeneration"])
        raise AssertionError(f"never awaited sign-off: {self.status()['phase']}")

    def git(self, *args: str, person: tuple[str, str] = DANA) -> str:
        return git(self.path, *args, env=who(person))

    def signoff_branch(
        self, person: tuple[str, str] = DANA, *, key: SshKey | None = None, author: str = ""
    ) -> str:
        """A branch whose one commit (by `person`, signed with `key`, author field `author`)
        writes the sign-off of the generation awaiting it, as `offerctl signoff` would."""
        generation = self.status()["observedGeneration"]
        self.git("checkout", "-q", "-b", "signoff/x", "main")
        (self.path / SIGNOFF).write_text(
            "apiVersion: offers.marketplace/v1\nkind: SignOff\n"
            f"offer: {OFFER}\ngeneration: {generation}\n"
        )
        self.git("add", "--", SIGNOFF)
        args = [*(signing(key) if key else []), "commit", "-q", "-m", "Sign off"]
        args += ["-S"] if key else []
        args += [f"--author={author}"] if author else []
        self.git(*args, person=person)
        self.git("checkout", "-q", "main")
        return "signoff/x"

    def merge(
        self,
        branch: str,
        person: tuple[str, str],
        *,
        key: SshKey | None = None,
        trailer: str = RITA_OK,
    ) -> str:
        args = [*(signing(key) if key else []), "merge", "-q", "--no-ff"]
        args += ["-S"] if key else []
        self.git(*args, "-m", f"Merge {branch}", "-m", trailer, branch, person=person)
        return self.git("rev-parse", "HEAD").strip()

    def verdict(self) -> dict[str, Any]:
        """The sign-off verdict the next pass records in status.yaml."""
        self.reconcile()
        signoff = self.status().get("signOff")
        assert isinstance(signoff, dict)
        return signoff


def example_files() -> dict[str, bytes]:
    folder = EXAMPLES / OFFER
    return {
        f"offers/{OFFER}/{p.relative_to(folder).as_posix()}": p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and p.name not in ("status.yaml", "signoff.yaml")
    }


class Templates:
    """Offers repositories awaiting sign-off, one per policy, built on first use and copied."""

    def __init__(self, root: Path) -> None:
        self.root = root
        people = (RITA, DANA, BOB)
        self.keys = {p[1]: make_key(root / "keys", p[1].split("@")[0]) for p in people}
        self.built: dict[str, Path] = {}

    def offers(self, policy: str, dest: Path, env: Mapping[str, str] | None = None) -> Offers:
        if policy not in self.built:
            signers = "".join(key.allowed_signers(email) for email, key in self.keys.items())
            gitrepos = GitRepos(self.root / f"t{len(self.built)}")
            files = {**example_files(), "publishing.yaml": policy, SIGNERS: signers}
            path = gitrepos.init("offers", files)
            Offers(path, self.keys, dict(env or {})).until_awaiting_signoff()
            self.built[policy] = path
        copy = dest / "offers"
        shutil.copytree(self.built[policy], copy, symlinks=True)
        return Offers(copy, self.keys, dict(env or {}))


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    return Templates(tmp_path_factory.mktemp("signoff-trust"))


@pytest.fixture
def offers(templates: Templates, tmp_path: Path) -> Offers:
    return templates.offers(GIT_POLICY, tmp_path)


# ---------------------------------------------------------------- item 4: git provider


class TestGitApprovalIsTheApproversSignature:
    """Only Rita's own key makes an approval; typing her name does not."""

    def test_signed_merge_by_the_approver_goes_live(self, offers: Offers) -> None:
        branch = offers.signoff_branch(DANA, key=offers.keys[DANA[1]])
        offers.merge(branch, RITA, key=offers.keys[RITA[1]])

        verdict = offers.verdict()

        assert verdict["valid"] is True, verdict["message"]
        assert verdict["trust"] == "signed"
        assert offers.status()["phase"] in {"Publishing", "GoingLive", "Live"}

    def test_publisher_merging_her_own_branch_with_a_typed_trailer_is_not_approved(
        self, offers: Offers
    ) -> None:
        branch = offers.signoff_branch(DANA)
        offers.merge(branch, DANA)  # Dana types "Approved-by: Rita"

        verdict = offers.verdict()

        assert verdict["valid"] is False
        assert verdict["reason"] == "SignatureInvalid"
        assert offers.status()["phase"] == "AwaitingSignOff"

    def test_developer_signing_with_her_own_key_cannot_approve_as_rita(
        self, offers: Offers
    ) -> None:
        # requireSignedCommits used to accept any allowed key: Dana's signature, Rita's name.
        (offers.path / "publishing.yaml").write_text(GIT_POLICY + "  requireSignedCommits: true\n")
        offers.git("commit", "-q", "-am", "Require signed commits", person=RITA)
        branch = offers.signoff_branch(DANA, key=offers.keys[DANA[1]])
        offers.merge(branch, DANA, key=offers.keys[DANA[1]])

        verdict = offers.verdict()

        assert verdict["valid"] is False
        assert verdict["reason"] == "SignatureInvalid"
        assert DANA[1] in verdict["message"]
        assert offers.status()["phase"] == "AwaitingSignOff"

    def test_approver_hiding_behind_another_author_field_is_self_approval(
        self, offers: Offers
    ) -> None:
        # Rita writes the sign-off herself but puts Bob in the author field, then approves.
        bob = f"{BOB[0]} <{BOB[1]}>"
        branch = offers.signoff_branch(RITA, key=offers.keys[RITA[1]], author=bob)
        assert offers.git("log", "-1", "--format=%ae", branch).strip() == BOB[1]
        offers.merge(branch, RITA, key=offers.keys[RITA[1]])

        verdict = offers.verdict()

        assert verdict["valid"] is False
        assert verdict["reason"] == "SelfApproval"

    def test_unsigned_branch_commit_with_a_borrowed_author_is_not_approved(
        self, offers: Offers
    ) -> None:
        branch = offers.signoff_branch(RITA, author=f"{BOB[0]} <{BOB[1]}>")
        offers.merge(branch, RITA, key=offers.keys[RITA[1]])

        verdict = offers.verdict()

        assert verdict["valid"] is False
        assert verdict["reason"] == "SignatureInvalid"
        assert "cannot be verified" in verdict["message"]


# ---------------------------------------------------------------- item 5: github provider


@pytest.fixture(scope="module")
def _github_server() -> Iterator[FakeGitHub]:
    with serve(FakeGitHub()) as server:
        yield server


@pytest.fixture
def operator_github(_github_server: FakeGitHub) -> FakeGitHub:
    """The GitHub API the operator names (one server per module, emptied per test)."""
    _github_server.pulls_by_commit.clear()
    _github_server.reviews.clear()
    _github_server.commits.clear()
    _github_server.requests.clear()
    return _github_server


def github_policy(api_url: str, extra: str = "") -> str:
    # apiUrl is what today's main reads; this branch ignores it and reads the operator's.
    return (
        "apiVersion: offers.marketplace/v1\nkind: Publishing\nsignoff:\n"
        "  provider: github\n  approvers: ['@rita']\n"
        f"  github: {{repository: {REPO}, apiUrl: '{api_url}'{extra}}}\n"
    )


def github_offers(templates: Templates, tmp_path: Path, fake: FakeGitHub) -> Offers:
    env = {"OFFERCTL_GITHUB_API_URL": fake.base_url}
    return templates.offers(github_policy(fake.base_url), tmp_path, env)


class TestGitHubPullRequestMustHaveBroughtTheSignOff:
    """Approvals count only on the pull request that merged this content into this branch."""

    def _signed_off(self, offers: Offers, fake: FakeGitHub) -> tuple[str, str]:
        branch = offers.signoff_branch(DANA)
        head = offers.git("rev-parse", branch).strip()
        merge = offers.merge(branch, DANA, trailer="Merged on GitHub")
        fake.reviews[7] = [review(1, "rita", "APPROVED", head)]
        fake.commits[7] = [pr_commit(head, "dana", DANA[1])]
        return head, merge

    def test_pull_request_merged_into_this_branch_by_this_commit_counts(
        self, templates: Templates, tmp_path: Path, operator_github: FakeGitHub
    ) -> None:
        offers = github_offers(templates, tmp_path, operator_github)
        head, merge = self._signed_off(offers, operator_github)
        operator_github.pulls_by_commit[merge] = [pull(7, "dana", head, merge)]

        verdict = offers.verdict()

        assert verdict["valid"] is True, verdict["message"]
        assert verdict["trust"] == "github-review"

    def test_pull_request_merged_into_another_branch_does_not_count(
        self, templates: Templates, tmp_path: Path, operator_github: FakeGitHub
    ) -> None:
        offers = github_offers(templates, tmp_path, operator_github)
        head, merge = self._signed_off(offers, operator_github)
        elsewhere = pull(7, "dana", head, merge)
        elsewhere["base"]["ref"] = "sandbox"
        operator_github.pulls_by_commit[merge] = [elsewhere]

        verdict = offers.verdict()

        assert verdict["valid"] is False
        assert verdict["reason"] == "NotReviewed"
        assert "sandbox" in verdict["message"]

    def test_pull_request_whose_merge_commit_is_another_commit_does_not_count(
        self, templates: Templates, tmp_path: Path, operator_github: FakeGitHub
    ) -> None:
        # An approved PR merged somewhere else; the same content reached main another way.
        offers = github_offers(templates, tmp_path, operator_github)
        head, merge = self._signed_off(offers, operator_github)
        operator_github.pulls_by_commit[merge] = [pull(7, "dana", head, "e" * 40)]

        verdict = offers.verdict()

        assert verdict["valid"] is False
        assert verdict["reason"] == "NotReviewed"
        assert "eeeeeeeeeeee" in verdict["message"]


# ---------------------------------------------------------------- item 3: credentials


@dataclass
class Recorder:
    """Any HTTP server: records every request's method, path and headers; answers []."""

    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    base_url: str = ""


@pytest.fixture(scope="module")
def _attacker_server() -> Iterator[Recorder]:
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _any(self) -> None:
            recorder.requests.append((self.command, self.path, dict(self.headers.items())))
            body = b"[]"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def attacker(_attacker_server: Recorder) -> Recorder:
    """A host a pull request names (one server per module, emptied per test)."""
    _attacker_server.requests.clear()
    return _attacker_server


SECRETS_IN_ENV = {
    "OFFERCTL_WEBHOOK_SECRET": WEBHOOK_SECRET,
    "OFFERCTL_MARKETPLACE_TOKEN": MARKET_TOKEN,
    "OFFERCTL_GITHUB_TOKEN": OPERATOR_TOKEN,
}


class TestPullRequestCannotChooseWhereCredentialsGo:
    """No file in the repository picks the host a token goes to, or which variable is read."""

    def test_plan_on_a_pr_that_redirects_endpoints_sends_nothing_to_its_host(
        self, offers: Offers, attacker: Recorder, operator_github: FakeGitHub
    ) -> None:
        # As the shipped CI job does: `offerctl plan` on the unmerged pull request's checkout.
        generation = offers.status()["observedGeneration"]
        offers.git("checkout", "-q", "-b", "pr/tidy-publishing")
        hostile = (
            "apiVersion: offers.marketplace/v1\nkind: Publishing\n"
            f"marketplace: {{url: '{attacker.base_url}'}}\n"
            + github_policy(attacker.base_url, ", tokenEnv: OFFERCTL_WEBHOOK_SECRET").split(
                "kind: Publishing\n"
            )[1]
        )
        (offers.path / "publishing.yaml").write_text(hostile)
        (offers.path / SIGNOFF).write_text(
            "apiVersion: offers.marketplace/v1\nkind: SignOff\n"
            f"offer: {OFFER}\ngeneration: {generation}\n"
        )
        offers.git("add", "-A")
        offers.git("commit", "-q", "-m", "Tidy publishing.yaml")
        env = {**SECRETS_IN_ENV, "OFFERCTL_GITHUB_API_URL": operator_github.base_url}

        proc = offers.offerctl("plan", "--repo", str(offers.path), env=env)

        assert attacker.requests == []
        seen = proc.stdout + proc.stderr + json.dumps(operator_github.requests)
        assert WEBHOOK_SECRET not in seen
        assert MARKET_TOKEN not in seen
        # The moved keys are reported to the operator, not obeyed.
        for key in ("$.marketplace.url", "$.signoff.github.apiUrl", "$.signoff.github.tokenEnv"):
            assert f"warning: publishing.yaml: {key}" in proc.stderr

    def test_github_token_goes_only_to_the_api_the_operator_named(
        self,
        templates: Templates,
        tmp_path: Path,
        attacker: Recorder,
        operator_github: FakeGitHub,
    ) -> None:
        offers = github_offers(templates, tmp_path, operator_github)
        # A merged change points the API at another host and the token at another variable.
        redirect = github_policy(attacker.base_url, ", tokenEnv: OFFERCTL_WEBHOOK_SECRET")
        (offers.path / "publishing.yaml").write_text(redirect)
        offers.git("commit", "-q", "-am", "Move the GitHub API")
        offers.env.update(SECRETS_IN_ENV)
        branch = offers.signoff_branch(DANA)
        offers.merge(branch, DANA, trailer="Merged on GitHub")

        offers.verdict()

        assert attacker.requests == []
        sent = [headers.get("authorization", "") for _, headers in operator_github.requests]
        assert sent
        assert all(value == f"Bearer {OPERATOR_TOKEN}" for value in sent)
