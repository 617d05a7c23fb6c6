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
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from git_helpers import GitRepos
from status_world import offer_files, offerctl

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
