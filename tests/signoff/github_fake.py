"""A GitHub REST API stand-in on 127.0.0.1 that answers with GitHub's documented JSON shapes.

It serves the four endpoints the github provider reads (pull requests of a
commit, a pull request's reviews and commits, a team's members), paginates
with `Link: <...>; rel="next"` like GitHub, honours `If-None-Match` with 304,
records every request's headers, and can be told to answer with a rate limit
(403 with `x-ratelimit-remaining: 0`, or 429 with `Retry-After`) or an error.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

REPO = "contoso/offers"


def user(login: str, kind: str = "User") -> dict[str, Any]:
    return {
        "login": login,
        "id": abs(hash(login)) % 10**6,
        "type": kind,
        "html_url": f"https://github.com/{login}",
    }


def review(
    rid: int,
    login: str,
    state: str,
    commit_id: str,
    *,
    submitted_at: str = "2026-11-20T10:00:00Z",
    kind: str = "User",
) -> dict[str, Any]:
    return {
        "id": rid,
        "node_id": f"PRR_{rid}",
        "user": user(login, kind),
        "body": "",
        "state": state,
        "html_url": f"https://github.com/{REPO}/pull/7#pullrequestreview-{rid}",
        "pull_request_url": f"https://api.github.com/repos/{REPO}/pulls/7",
        "submitted_at": submitted_at,
        "commit_id": commit_id,
        "author_association": "MEMBER",
    }


def pull(
    number: int, author: str, head_sha: str, merge_sha: str | None, merged: bool = True
) -> dict[str, Any]:
    return {
        "url": f"https://api.github.com/repos/{REPO}/pulls/{number}",
        "id": 1000 + number,
        "number": number,
        "state": "closed" if merged else "open",
        "title": "Sign off",
        "user": user(author),
        "html_url": f"https://github.com/{REPO}/pull/{number}",
        "head": {"ref": "signoff/x", "sha": head_sha, "user": user(author)},
        "base": {"ref": "main", "sha": "0" * 40},
        "merged_at": "2026-11-21T09:30:00Z" if merged else None,
        "merge_commit_sha": merge_sha,
    }


def pr_commit(sha: str, login: str, email: str) -> dict[str, Any]:
    return {
        "sha": sha,
        "commit": {
            "author": {"name": login, "email": email, "date": "2026-11-20T09:00:00Z"},
            "committer": {"name": login, "email": email, "date": "2026-11-20T09:00:00Z"},
            "message": "Sign off",
        },
        "author": user(login),
        "committer": user(login),
    }


@dataclass
class FakeGitHub:
    pulls_by_commit: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    commits: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    teams: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    page_size: int = 100
    fail_with: tuple[int, dict[str, str]] | None = None  # (status, headers) for every request
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    base_url: str = ""

    def route(self, path: str) -> list[dict[str, Any]] | None:
        if m := re.fullmatch(rf"/repos/{REPO}/commits/([0-9a-f]{{40}})/pulls", path):
            return self.pulls_by_commit.get(m.group(1), [])
        if m := re.fullmatch(rf"/repos/{REPO}/pulls/(\d+)/reviews", path):
            return self.reviews.get(int(m.group(1)))
        if m := re.fullmatch(rf"/repos/{REPO}/pulls/(\d+)/commits", path):
            return self.commits.get(int(m.group(1)), [])
        if m := re.fullmatch(r"/orgs/([^/]+)/teams/([^/]+)/members", path):
            return self.teams.get(f"{m.group(1)}/{m.group(2)}")
        return None


def _handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            fake.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            if fake.fail_with is not None:
                status, headers = fake.fail_with
                self._send(
                    status,
                    {
                        "message": "API rate limit exceeded for user ID 1."
                        if status in {403, 429}
                        else "Server Error",
                        "documentation_url": "https://docs.github.com/rest",
                    },
                    headers,
                )
                return
            parts = urlsplit(self.path)
            items = fake.route(parts.path)
            if items is None:
                self._send(404, {"message": "Not Found"})
                return
            page = int(parse_qs(parts.query).get("page", ["1"])[0])
            size = fake.page_size
            chunk = items[(page - 1) * size : page * size]
            headers = {"ETag": f'"{parts.path}:{page}:{len(items)}"'}
            if page * size < len(items):
                headers["Link"] = (
                    f"<{fake.base_url}{parts.path}?per_page=100&page={page + 1}>; "
                    f'rel="next", <{fake.base_url}{parts.path}?page=9>; rel="last"'
                )
            if self.headers.get("If-None-Match") == headers["ETag"]:
                self._send(304, None, headers)
                return
            self._send(200, chunk, headers)

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def serve(fake: FakeGitHub) -> Iterator[FakeGitHub]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
