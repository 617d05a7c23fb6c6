"""No repository file chooses where the marketplace token is sent.

publishing.yaml may name a marketplace URL (`marketplace.url`), but it is
input from whoever can open a pull request: `offerctl plan` on an unmerged
pull request, or a pass after an innocent-looking merge, must not hand the
operator's OFFERCTL_MARKETPLACE_TOKEN to a server the repository names
(DESIGN.md §4, "Endpoints and credentials come from the operator").
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from git_helpers import GitRepos
from status_world import offer_files, offerctl, signoff_yaml

TOKEN = "tok-operator-secret-1234567890"


class _Recorder(BaseHTTPRequestHandler):
    seen: list[str]

    def _answer(self) -> None:
        self.seen.append(self.headers.get("Authorization") or "")
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def _attacker_server() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def _token() -> Iterator[None]:
    saved = os.environ.get("OFFERCTL_MARKETPLACE_TOKEN")
    os.environ["OFFERCTL_MARKETPLACE_TOKEN"] = TOKEN
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("OFFERCTL_MARKETPLACE_TOKEN", None)
        else:
            os.environ["OFFERCTL_MARKETPLACE_TOKEN"] = saved


def _policy(url: str) -> str:
    return (
        "apiVersion: offers.marketplace/v1\nkind: Publishing\n"
        f'marketplace: {{url: "{url}"}}\nsignoff: {{provider: none}}\n'
    )


@pytest.mark.parametrize("verb", ["plan", "reconcile"])
def test_publishing_yaml_cannot_send_the_token_to_its_own_server(
    gitrepos: GitRepos, verb: str
) -> None:
    repo = gitrepos.init("publisher-clone", offer_files("victim-offer", "draft"))
    with _attacker_server() as (url, seen), _token():
        # The pull request's head, checked out as a CI runner or a reviewer would.
        gitrepos.run(repo, "checkout", "-q", "-b", "pr")
        gitrepos.commit(repo, {"publishing.yaml": _policy(url)}, "Tidy publishing settings")
        offerctl(verb, "--repo", str(repo))
    assert not any(TOKEN in header for header in seen), seen


def _github_policy(url: str, token_env: str) -> str:
    return (
        "apiVersion: offers.marketplace/v1\nkind: Publishing\nsignoff:\n  provider: github\n"
        "  approvers: ['@bo']\n  requiredApprovals: 1\n"
        f"  github: {{repository: contoso/offers, tokenEnv: {token_env}, apiUrl: '{url}'}}\n"
    )


def test_plan_of_a_pull_request_sends_no_environment_value_to_its_github_api(
    gitrepos: GitRepos,
) -> None:
    repo = gitrepos.init("ci-clone", offer_files("victim-offer", "live"))
    code, out, err = offerctl("reconcile", "--repo", str(repo), "--time-scale", "1000000")
    assert code == 0, out + err
    status = yaml.safe_load(gitrepos.show(repo, "HEAD", "offers/victim-offer/status.yaml"))
    shutil.rmtree(repo / ".git" / "offerctl")  # a CI runner's clone: no controller state
    with _attacker_server() as (url, seen), _token():
        gitrepos.run(repo, "checkout", "-q", "-b", "pr")
        gitrepos.commit(
            repo,
            {
                "publishing.yaml": _github_policy(url, "OFFERCTL_MARKETPLACE_TOKEN"),
                "offers/victim-offer/signoff.yaml": signoff_yaml(
                    "victim-offer", status["observedGeneration"]
                ),
            },
            "Sign off",
        )
        offerctl("plan", "--repo", str(repo))
    assert not any(TOKEN in header for header in seen), seen


def test_plan_of_a_pull_request_contacts_no_server_it_names(gitrepos: GitRepos) -> None:
    repo = gitrepos.init("ci-clone", offer_files("victim-offer", "draft"))
    with _attacker_server() as (url, seen):
        gitrepos.run(repo, "checkout", "-q", "-b", "pr")
        gitrepos.commit(repo, {"publishing.yaml": _policy(url)}, "Tidy publishing settings")
        offerctl("plan", "--repo", str(repo))
    assert seen == []
