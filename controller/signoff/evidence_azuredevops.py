"""Review evidence from the Azure DevOps REST API: the completed pull request and its votes.

`AzureDevOpsClient` reads one Azure Repos repository through the project's
one HTTP door (`controller.http.JsonHttp`: timeouts, retries with backoff,
`Retry-After`, redirects refused, errors that never carry headers). The
server URL and the token are the operator's (`operator.AzureDevOpsEndpoint`);
the repository's publishing.yaml names only the organization, project and
repository, which become percent-encoded path segments under that server,
so no file in the repository can move the token to another host. A
personal access token is sent as HTTP Basic with an empty user name, as
Azure DevOps documents; an Entra ID access token (a JWT) as a Bearer token.

Calls (api-version 7.1), all under
`{server}/{organization}/{project}/_apis/git/repositories/{repository}`:
- `POST pullrequestquery` with two queries for the introducing commit:
  `lastMergeCommit` (the pull request whose merge created it) and `commit`
  (pull requests that merged it), so a pull request that merged the content
  elsewhere is named in the verdict rather than silently missing;
- `GET pullrequests/{id}` (status, target branch, merge commit, creator,
  reviewers and their votes);
- `GET pullRequests/{id}/iterations` (the pushes; the last one is final);
- `GET pullRequests/{id}/threads` (the system threads that time each vote);
- `GET pullRequests/{id}/commits` (the change's commit authors; paged with
  `x-ms-continuationtoken`).

`gather` turns any failure into `lookup_error`, so an outage or a bad token
fails closed: no sign-off counts until the evidence can be read again. The
decisions themselves are `azuredevops_votes`.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from controller.git.history import RepoHandle, check_oid
from controller.http import HttpError, JsonHttp, NotJson, RetryPolicy
from controller.repo.policy import AzureDevOpsSettings, SignOffPolicy
from controller.signoff import azuredevops_votes as votes
from controller.signoff import evidence_git
from controller.signoff.operator import AzureDevOpsEndpoint
from controller.signoff.rules import ChangeEvidence

API_VERSION = "7.1"
MAX_PAGES = 10
CONTINUATION = "x-ms-continuationtoken"
# Sign-off evidence is read on every pass: fail over to "not yet" quickly rather than block.
RETRY = RetryPolicy(timeout=15.0, max_attempts=3, max_backoff=5.0, max_retry_after=30.0)
_JWT = re.compile(r"^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")


class AzureDevOpsError(Exception):
    """Azure DevOps could not answer; the message is safe to show (no token, no headers)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AzureDevOpsClient:
    """Read-only access to one Azure Repos repository's pull requests."""

    def __init__(
        self,
        settings: AzureDevOpsSettings,
        *,
        url: str,
        token: str | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        if not settings.configured:
            raise ValueError("an Azure DevOps organization, project and repository are needed")
        self.settings = settings
        self.url = url.rstrip("/")
        self._token = token
        self._http = JsonHttp(self.url, policy=policy or RETRY, headers=self._auth)
        self._repo = (
            "/"
            + "/".join(_segment(s) for s in (settings.organization, settings.project))
            + f"/_apis/git/repositories/{_segment(settings.repository)}"
        )

    @classmethod
    def for_endpoint(
        cls, settings: AzureDevOpsSettings, endpoint: AzureDevOpsEndpoint
    ) -> AzureDevOpsClient:
        """A client for `settings`' repository on the operator's server, with their token."""
        return cls(settings, url=endpoint.url, token=endpoint.token)

    def __repr__(self) -> str:  # never show the token
        return f"AzureDevOpsClient({self.repository!r}, url={self.url!r})"

    @property
    def repository(self) -> str:
        s = self.settings
        return f"{s.organization}/{s.project}/{s.repository}"

    def web_url(self, number: int) -> str:
        s = self.settings
        parts = "/".join(_segment(x) for x in (s.organization, s.project))
        return f"{self.url}/{parts}/_git/{_segment(s.repository)}/pullrequest/{int(number)}"

    def close(self) -> None:
        self._http.close()

    # -- endpoints -----------------------------------------------------------------

    def pull_requests_for_commit(self, sha: str) -> list[dict[str, Any]]:
        """Pull requests whose merge created `sha`, and those that merged it (deduplicated)."""
        check_oid(sha)
        body = {
            "queries": [
                {"type": "lastMergeCommit", "items": [sha]},
                {"type": "commit", "items": [sha]},
            ]
        }
        data = self._call("POST", "/pullrequestquery", body=body)
        results = data.get("results") if isinstance(data, Mapping) else None
        if not isinstance(results, list):
            raise AzureDevOpsError("POST pullrequestquery: the answer has no results list")
        found: dict[int, dict[str, Any]] = {}
        for result in results:
            if not isinstance(result, Mapping):
                continue
            for key, pulls in result.items():
                if str(key).lower() != sha.lower() or not isinstance(pulls, list):
                    continue
                for pull in pulls:
                    if isinstance(pull, dict) and isinstance(pull.get("pullRequestId"), int):
                        found.setdefault(pull["pullRequestId"], pull)
        return [found[k] for k in sorted(found)]

    def pull_request(self, number: int) -> dict[str, Any]:
        data = self._call("GET", f"/pullrequests/{int(number)}")
        if not isinstance(data, dict):
            raise AzureDevOpsError(f"GET pull request {int(number)}: expected a JSON object")
        return data

    def iterations(self, number: int) -> list[dict[str, Any]]:
        return self._values(f"/pullRequests/{int(number)}/iterations")

    def threads(self, number: int) -> list[dict[str, Any]]:
        return self._values(f"/pullRequests/{int(number)}/threads")

    def pull_commits(self, number: int) -> list[dict[str, Any]]:
        return self._values(f"/pullRequests/{int(number)}/commits", paged=True)

    # -- transport -----------------------------------------------------------------

    def _auth(self) -> dict[str, str]:
        if not self._token:
            return {}
        if _JWT.match(self._token):
            return {"Authorization": f"Bearer {self._token}"}
        basic = base64.b64encode(f":{self._token}".encode()).decode("ascii")
        return {"Authorization": f"Basic {basic}"}

    def _values(self, path: str, *, paged: bool = False) -> list[dict[str, Any]]:
        """A `{"count": n, "value": [...]}` list, following continuation tokens if `paged`."""
        items: list[dict[str, Any]] = []
        params: dict[str, str] = {}
        for _ in range(MAX_PAGES):
            data, headers = self._call_with_headers("GET", path, params=params)
            value = data.get("value") if isinstance(data, Mapping) else None
            if not isinstance(value, list):
                raise AzureDevOpsError(f"GET {path.rsplit('/', 1)[-1]}: expected a value list")
            items.extend(v for v in value if isinstance(v, dict))
            token = headers.get(CONTINUATION) if paged else None
            if not token:
                return items
            params = {"continuationToken": token}
        raise AzureDevOpsError(f"GET {path.rsplit('/', 1)[-1]}: more than {MAX_PAGES} pages")

    def _call(self, method: str, path: str, *, body: Any = None) -> Any:
        return self._call_with_headers(method, path, body=body)[0]

    def _call_with_headers(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> tuple[Any, Mapping[str, str]]:
        query = {**(params or {}), "api-version": API_VERSION}
        try:
            data, headers = self._http.request(method, self._repo + path, body=body, params=query)
        except NotJson as exc:
            raise AzureDevOpsError(
                f"{exc}; Azure DevOps answers a missing, expired or revoked token with a "
                "sign-in page"
            ) from None
        except HttpError as exc:
            hint = {
                401: " (the token is missing, expired or revoked)",
                403: " (the token lacks the Code (Read) scope)",
                404: " (no such organization, project, repository or pull request, or the "
                "token cannot see it)",
            }.get(exc.status, "")
            wait = f"; retry in {exc.retry_after:.0f} s" if exc.retry_after is not None else ""
            raise AzureDevOpsError(f"{exc}{hint}{wait}", exc.retry_after) from None
        return data, headers


def _segment(value: str) -> str:
    return urllib.parse.quote(value, safe="")


# ---------------------------------------------------------------- evidence


def gather(
    repo: RepoHandle,
    tip: str,
    path: str,
    policy: SignOffPolicy,
    *,
    client: AzureDevOpsClient,
    branch: str | None,
) -> ChangeEvidence:
    """Evidence from the pull request that completed the commit into `branch`.

    `branch` is the watched branch's name; None (a detached checkout) means no
    pull request can be shown to have been merged into it.
    """
    base = evidence_git.gather(repo, tip, path, policy)
    if base.lookup_error:
        return base
    try:
        return _from_pull_requests(client, base, branch)
    except AzureDevOpsError as exc:
        return replace(base, lookup_error=str(exc))


def _from_pull_requests(
    client: AzureDevOpsClient, base: ChangeEvidence, branch: str | None
) -> ChangeEvidence:
    found = client.pull_requests_for_commit(base.commit)
    note = votes.merge_problem(found, base.commit, branch, client.repository)
    if note:
        return replace(base, pull_request_merged=False, review_note=note, approvals=())
    number = next(p for p in found if votes.lands(p, base.commit, branch))["pullRequestId"]
    pull = client.pull_request(number)
    if not votes.lands(pull, base.commit, branch):
        # The query's shallow copy and the pull request itself disagree: believe neither.
        raise AzureDevOpsError(
            f"pull request !{number} does not show itself completed into {branch!r} by "
            f"commit {base.commit[:12]}, as the pull request query said"
        )
    final = votes.final_iteration(client.iterations(number))
    if final is None:
        raise AzureDevOpsError(f"pull request !{number} lists no iterations (pushes)")
    merged_source = str(votes.get(pull, "lastMergeSourceCommit", "commitId")).lower()
    final_source = str(votes.get(final, "sourceRefCommit", "commitId")).lower()
    if merged_source and final_source and merged_source != final_source:
        raise AzureDevOpsError(
            f"pull request !{number} merged source commit {merged_source[:12]}, but its "
            f"final iteration {final.get('id')} is {final_source[:12]}"
        )
    standing = votes.judge_votes(pull, final, client.threads(number))
    authors = votes.authors(pull, client.pull_commits(number))
    return replace(
        base,
        pull_request=client.web_url(number),
        pull_request_merged=True,
        authors=(*base.authors, *authors),
        approvals=standing.approvals,
        rejections=standing.rejections,
    )
