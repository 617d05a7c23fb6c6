"""An Azure DevOps REST API stand-in on 127.0.0.1 that answers with Azure DevOps' JSON shapes.

It serves what the azuredevops provider reads, under
`/{organization}/{project}/_apis/git/repositories/{repository}` and only with
`api-version=7.1`: `POST pullrequestquery` (queries of type
`lastMergeCommit` and `commit`, results as commit -> pull requests),
`GET pullrequests/{id}`, and `{"count", "value"}` lists of a pull request's
iterations, threads (vote updates as the system threads Azure DevOps
writes) and commits (paged with `x-ms-continuationtoken`). Like Azure
DevOps, a request whose Basic credentials are not the expected personal
access token gets `203` and an HTML sign-in page. Every request is recorded
with its method, path, query, headers and body; `fail_with` makes every
answer an error (a status and headers) instead.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ORG, PROJECT, REPO = "contoso", "Offers Team", "offers"
PREFIX = "/contoso/Offers%20Team/_apis/git/repositories/offers"
SIGN_IN_PAGE = b"<!DOCTYPE html><html><head><title>Azure DevOps Services | Sign In</title>"


def identity(name: str, email: str, *, container: bool = False) -> dict[str, Any]:
    """An IdentityRef: a stable id per e-mail, as Azure DevOps gives each identity one."""
    uid = str(uuid.uuid5(uuid.NAMESPACE_URL, email))
    return {
        "displayName": name,
        "url": f"https://spsprodweu5.vssps.visualstudio.com/_apis/Identities/{uid}",
        "_links": {"avatar": {"href": f"https://dev.azure.com/{ORG}/_apis/GraphProfile/{uid}"}},
        "id": uid,
        "uniqueName": email,
        "imageUrl": f"https://dev.azure.com/{ORG}/_api/_common/identityImage?id={uid}",
        "descriptor": f"aad.{base64.b64encode(uid.encode()).decode()}",
        **({"isContainer": True} if container else {}),
    }


def reviewer(who: dict[str, Any], vote: int, *, required: bool = False) -> dict[str, Any]:
    """An IdentityRefWithVote."""
    return {
        **who,
        "reviewerUrl": f"https://dev.azure.com/{ORG}/_apis/git/repositories/r/reviewers/{who['id']}",
        "vote": vote,
        "hasDeclined": False,
        "isFlagged": False,
        "isRequired": required,
    }


def pull_request(
    number: int,
    creator: dict[str, Any],
    *,
    merge_sha: str | None,
    source_sha: str,
    reviewers: list[dict[str, Any]],
    status: str = "completed",
    target: str = "refs/heads/main",
    closed_by: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A GitPullRequest as `GET pullrequests/{id}` answers."""
    pull: dict[str, Any] = {
        "repository": {
            "id": "3411ebc1-d5aa-464f-9615-0b527bc66719",
            "name": REPO,
            "project": {"id": "a7573007-bbb3-4341-b726-0c4148a07853", "name": PROJECT},
        },
        "pullRequestId": number,
        "codeReviewId": number,
        "status": status,
        "createdBy": creator,
        "creationDate": "2026-11-20T08:00:00.1234567Z",
        "title": "Sign off",
        "description": "Sign off the offer",
        "sourceRefName": "refs/heads/signoff/x",
        "targetRefName": target,
        "mergeStatus": "succeeded",
        "isDraft": False,
        "mergeId": "f5fc8381-3fb2-49fe-8a0d-27dcc2d6ef82",
        "lastMergeSourceCommit": {"commitId": source_sha},
        "lastMergeTargetCommit": {"commitId": "0" * 40},
        "reviewers": reviewers,
        "url": f"https://dev.azure.com/{ORG}/_apis/git/repositories/r/pullRequests/{number}",
        "supportsIterations": True,
    }
    if merge_sha is not None:
        pull["lastMergeCommit"] = {"commitId": merge_sha}
    if status == "completed":
        pull["closedDate"] = "2026-11-21T09:30:00Z"
        pull["closedBy"] = closed_by or creator
    return pull


def iteration(number: int, source_sha: str, created: str, author: dict[str, Any]) -> dict[str, Any]:
    """A GitPullRequestIteration."""
    return {
        "id": number,
        "description": "Sign off",
        "author": author,
        "createdDate": created,
        "updatedDate": created,
        "sourceRefCommit": {"commitId": source_sha},
        "targetRefCommit": {"commitId": "0" * 40},
        "commonRefCommit": {"commitId": "0" * 40},
        "hasMoreCommits": False,
        "reason": "create" if number == 1 else "push",
    }


def vote_thread(
    number: int, voter: dict[str, Any], vote: int, when: str, *, by_index: bool = True
) -> dict[str, Any]:
    """The system thread Azure DevOps writes when someone votes.

    `by_index`: the voter as `CodeReviewVotedByIdentity` pointing into the
    thread's `identities` (today's shape); else as `CodeReviewVotedByTfId`
    (the shape of the TFS 2017 documentation's sample).
    """
    properties: dict[str, Any] = {
        "CodeReviewThreadType": {"$type": "System.String", "$value": "VoteUpdate"},
        "CodeReviewVoteResult": {"$type": "System.String", "$value": str(vote)},
    }
    thread: dict[str, Any] = {
        "pullRequestThreadContext": None,
        "id": number,
        "publishedDate": when,
        "lastUpdatedDate": when,
        "comments": [
            {
                "id": 1,
                "parentCommentId": 0,
                "author": voter,
                "content": f"{voter['displayName']} voted {vote}",
                "publishedDate": when,
                "lastUpdatedDate": when,
                "commentType": "system",
            }
        ],
        "threadContext": None,
        "properties": properties,
        "isDeleted": False,
    }
    if by_index:
        properties["CodeReviewVotedByIdentity"] = {"$type": "System.String", "$value": "1"}
        thread["identities"] = {"1": voter}
    else:
        properties["CodeReviewVotedByTfId"] = {"$type": "System.String", "$value": voter["id"]}
        properties["CodeReviewVotedByDisplayName"] = {
            "$type": "System.String",
            "$value": voter["displayName"],
        }
    return thread


def text_thread(number: int, author: dict[str, Any], when: str) -> dict[str, Any]:
    return {
        "id": number,
        "publishedDate": when,
        "lastUpdatedDate": when,
        "comments": [
            {"id": 1, "author": author, "content": "LGTM", "commentType": "text"},
        ],
        "status": "active",
        "properties": {
            "Microsoft.TeamFoundation.Discussion.SupportsMarkdown": {
                "$type": "System.Int32",
                "$value": 1,
            }
        },
        "isDeleted": False,
    }


def commit_ref(sha: str, name: str, email: str) -> dict[str, Any]:
    """A GitCommitRef as `GET pullRequests/{id}/commits` lists it."""
    person = {"name": name, "email": email, "date": "2026-11-20T09:00:00Z"}
    return {
        "commitId": sha,
        "author": person,
        "committer": person,
        "comment": "Sign off",
        "url": f"https://dev.azure.com/{ORG}/_apis/git/repositories/r/commits/{sha}",
    }


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeAzureDevOps:
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    merged_commits: dict[str, list[int]] = field(default_factory=dict)  # "commit" queries
    iterations: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    threads: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    commits: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    token: str | None = None  # the PAT Basic credentials must carry; None: anyone
    page_size: int = 100
    fail_with: tuple[int, dict[str, str]] | None = None
    requests: list[Request] = field(default_factory=list)
    base_url: str = ""

    def reset(self, token: str | None = None) -> FakeAzureDevOps:
        """Forget every pull request and request (one server can serve a module's tests)."""
        for name in ("pulls", "merged_commits", "iterations", "threads", "commits"):
            getattr(self, name).clear()
        self.requests.clear()
        self.token, self.page_size, self.fail_with = token, 100, None
        return self

    def query(self, body: Any) -> dict[str, Any] | None:
        """The pullrequestquery answer: `results[n]` is {commit: [pull requests]} for query n."""
        if not isinstance(body, Mapping) or not isinstance(body.get("queries"), list):
            return None
        results: list[dict[str, list[dict[str, Any]]]] = []
        for query in body["queries"]:
            kind, items = query.get("type"), query.get("items") or []
            result: dict[str, list[dict[str, Any]]] = {}
            for sha in items:
                if kind == "lastMergeCommit":
                    found = [
                        p
                        for p in self.pulls.values()
                        if (p.get("lastMergeCommit") or {}).get("commitId") == sha
                    ]
                elif kind == "commit":
                    found = [self.pulls[n] for n in self.merged_commits.get(sha, [])]
                else:
                    return None
                if found:
                    result[sha] = [_shallow(p) for p in found]
            results.append(result)
        return {"queries": body["queries"], "results": results}

    def authorized(self, header: str) -> bool:
        if self.token is None:
            return True
        expected = base64.b64encode(f":{self.token}".encode()).decode()
        return header == f"Basic {expected}"


def _shallow(pull: dict[str, Any]) -> dict[str, Any]:
    """The query answers shallow pull requests: no reviewers, as `_links`-free references."""
    return {k: v for k, v in pull.items() if k not in {"reviewers", "description"}}


_PULL = re.compile(rf"^{re.escape(PREFIX)}/pullrequests/(\d+)$", re.IGNORECASE)
_LIST = re.compile(rf"^{re.escape(PREFIX)}/pullRequests/(\d+)/(iterations|threads|commits)$")


def _handler(fake: FakeAzureDevOps) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._serve(None)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            self._serve(body)

        def _serve(self, body: Any) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            headers = {k.lower(): v for k, v in self.headers.items()}
            fake.requests.append(Request(self.command, parts.path, query, headers, body))
            if fake.fail_with is not None:
                status, extra = fake.fail_with
                self._json(status, _error("Server error", "VssServiceException"), extra)
                return
            if not fake.authorized(headers.get("authorization", "")):
                self._send(203, SIGN_IN_PAGE, "text/html; charset=utf-8")
                return
            if query.get("api-version") != ["7.1"]:
                self._json(400, _error("The requested REST API version is not supported.",
                                       "VssVersionOutOfRangeException"))  # fmt: skip
                return
            answer = self._route(parts.path, query, body)
            if answer is None:
                self._json(404, _error("TF401019: The Git repository with name or identifier "
                                       "does not exist or you do not have permissions.",
                                       "GitRepositoryNotFoundException"))  # fmt: skip
                return
            data, extra = answer
            self._json(200, data, extra)

        def _route(
            self, path: str, query: dict[str, list[str]], body: Any
        ) -> tuple[Any, dict[str, str]] | None:
            if self.command == "POST" and path == f"{PREFIX}/pullrequestquery":
                result = fake.query(body)
                return None if result is None else (result, {})
            if self.command != "GET":
                return None
            if m := _PULL.match(path):
                pull = fake.pulls.get(int(m.group(1)))
                return None if pull is None else (pull, {})
            if m := _LIST.match(path):
                number, kind = int(m.group(1)), m.group(2)
                items = getattr(fake, kind).get(number, [])
                start = int(query.get("continuationToken", ["0"])[0])
                size = fake.page_size if kind == "commits" else len(items) or 1
                chunk = items[start : start + size]
                extra = {}
                if start + size < len(items):
                    extra["x-ms-continuationtoken"] = str(start + size)
                return {"count": len(chunk), "value": chunk}, extra
            return None

        def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(body).encode(), "application/json; charset=utf-8",
                       headers)  # fmt: skip

        def _send(
            self,
            status: int,
            data: bytes,
            content_type: str,
            headers: dict[str, str] | None = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _error(message: str, type_key: str) -> dict[str, Any]:
    return {
        "$id": "1",
        "innerException": None,
        "message": message,
        "typeName": f"Microsoft.TeamFoundation.{type_key}, Microsoft.TeamFoundation",
        "typeKey": type_key,
        "errorCode": 0,
        "eventId": 3000,
    }


@contextmanager
def serve(fake: FakeAzureDevOps) -> Iterator[FakeAzureDevOps]:
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
