"""Post pr-check's verdict to GitHub: a check run, or a commit status when that is refused.

The API base URL and the token are the operator's (`controller.signoff.
operator`: `--github-api-url` / `OFFERCTL_GITHUB_API_URL`, the token only
from `OFFERCTL_GITHUB_TOKEN`); the token goes to that URL and nowhere else
(`controller.http` refuses redirects). Calls go through the project's one
JSON client and retry policy.

Creating a check run needs a GitHub App token with `checks: write` (in
Actions, the job's GITHUB_TOKEN is one); a personal access token gets 403.
Then the same verdict is posted as a commit status (`statuses: write`), the
title as its description. A 403 that is a rate limit is not a permission
problem, and is reported, not worked around.

Creating a check run and appending annotations are not idempotent, so those
calls are retried only when surely not received (`retry=False`); posting a
status is (the latest status of a context wins), so it is retried.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from controller.http import HttpError, JsonHttp, RetryPolicy, error_message
from controller.prcheck.report import CheckRunRequests
from controller.signoff.operator import GitHubEndpoint

API_VERSION = "2022-11-28"
_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")


class PostError(Exception):
    """GitHub refused or did not answer; the message names no token and no header."""


@dataclass(frozen=True, slots=True)
class Posted:
    """What was posted: "check-run" (with its id) or "status", and why a status."""

    kind: str
    check_run_id: int = 0
    fallback_reason: str = ""


def check_repository(name: str) -> str:
    """OWNER/NAME as GitHub spells repositories; ValueError otherwise."""
    if not _REPOSITORY.match(name) or name.split("/")[1] in (".", ".."):
        raise ValueError(f"{name!r} is not a GitHub repository (OWNER/NAME)")
    return name


def check_sha(sha: str) -> str:
    if not _SHA.match(sha):
        raise ValueError(f"{sha!r} is not a full commit id (40 or 64 lowercase hex digits)")
    return sha


class ChecksPoster:
    """Posts check runs and statuses to one repository on the operator's GitHub API."""

    def __init__(
        self,
        endpoint: GitHubEndpoint,
        repository: str,
        *,
        policy: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not endpoint.token:
            raise PostError("no GitHub token: set OFFERCTL_GITHUB_TOKEN")
        self.repository = check_repository(repository)
        token = endpoint.token
        self._http = JsonHttp(
            endpoint.api_url,
            policy=policy,
            headers=lambda: _headers(token),
            transport=transport,
        )

    def __repr__(self) -> str:  # never show the token
        return f"ChecksPoster({self.repository!r}, api_url={self._http.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ChecksPoster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def publish(self, head_sha: str, run: CheckRunRequests, status: Mapping[str, object]) -> Posted:
        """The check run (create, then the further annotations); a status if refused with 403."""
        check_sha(head_sha)
        try:
            created, _ = self._http.request(
                "POST", f"/repos/{self.repository}/check-runs", body=run.create, retry=False
            )
        except HttpError as exc:
            if exc.status == 403 and not _rate_limited(exc):
                self.post_status(head_sha, status)
                reason = error_message(exc.body) or "403 Forbidden"
                return Posted("status", fallback_reason=reason)
            raise PostError(f"creating the check run failed: {exc}") from None
        run_id = created.get("id") if isinstance(created, dict) else None
        if not isinstance(run_id, int) or isinstance(run_id, bool):
            raise PostError("GitHub created a check run but did not say its id")
        for number, update in enumerate(run.updates, start=2):
            try:
                self._http.request(
                    "PATCH",
                    f"/repos/{self.repository}/check-runs/{run_id}",
                    body=update,
                    retry=False,
                )
            except HttpError as exc:
                raise PostError(
                    f"adding annotations (request {number} of {len(run.updates) + 1}) "
                    f"to check run {run_id} failed: {exc}"
                ) from None
        return Posted("check-run", check_run_id=run_id)

    def post_status(self, head_sha: str, status: Mapping[str, object]) -> None:
        check_sha(head_sha)
        try:
            self._http.request(
                "POST", f"/repos/{self.repository}/statuses/{head_sha}", body=dict(status)
            )
        except HttpError as exc:
            raise PostError(f"posting the commit status failed: {exc}") from None


def _headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": API_VERSION,
    }


def _rate_limited(exc: HttpError) -> bool:
    """GitHub answers an exhausted (or secondary) rate limit with 403 too."""
    return "rate limit" in error_message(exc.body).lower()
