"""Review evidence from GitHub's REST API: the merged pull request and its approving reviews.

`GitHubClient` reads through the project's one HTTP layer (`controller.http`:
httpx, the tenacity retry policy, no redirects, a timeout on every call): base
URL and token from the
operator (`controller.signoff.operator`: a loopback server in tests,
`https://HOST/api/v3` for GitHub Enterprise Server), never from the
repository; the token is sent only to that origin (as
an unredirected header, and pagination links to another origin are refused),
never logged or put in an error. Conditional requests (ETag) keep repeated
reconcile passes from spending the rate limit. A rate limit (403/429 with
`x-ratelimit-remaining: 0` or `Retry-After`) raises `GitHubRateLimited` with
the wait; any other failure raises `GitHubError`. `gather` turns those into
`lookup_error`, so a GitHub outage fails closed: no sign-off counts until
the evidence can be read again.

What counts, following GitHub's own review semantics:
- the pull request(s) associated with the introducing commit
  (`GET /repos/{o}/{r}/commits/{sha}/pulls`); only one that was merged into
  the watched branch (its base ref) and whose merge commit (or squash or
  rebase result, `merge_commit_sha`) *is* the introducing commit counts: a
  pull request merged elsewhere, or whose content reached the branch by
  another commit, approved nothing that is on the branch;
- each reviewer's latest review that has a state (COMMENTED and PENDING do
  not change a reviewer's state on GitHub); only APPROVED counts; DISMISSED
  or a later CHANGES_REQUESTED withdraws an approval;
- an approval of a commit other than the pull request's final head is stale
  (a later push was never approved);
- the pull request's author and the authors of its commits are the change's
  authors; bots never count.
"""

from __future__ import annotations

import re
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from controller.git import history as githistory
from controller.git.history import RepoHandle
from controller.http import (
    HttpError,
    JsonHttp,
    NotJson,
    RetryPolicy,
    error_message,
    parse_retry_after,
)
from controller.repo.policy import SignOffPolicy, is_acceptable_api_url
from controller.signoff import evidence_git
from controller.signoff.operator import GitHubEndpoint
from controller.signoff.rules import Approval, Authorization, ChangeEvidence, Ignored, Person

API_VERSION = "2022-11-28"
MAX_PAGES = 10  # 1,000 reviews or pull requests; more is not a real sign-off
_CACHE_ENTRIES = 256
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')
_TEAM = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*)/([A-Za-z0-9._-]+)$")


class GitHubError(Exception):
    """GitHub could not answer; the message is safe to show (no token, no headers)."""


class GitHubRateLimited(GitHubError):
    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def github_policy(timeout: float = 10.0) -> RetryPolicy:
    """The project's retry policy, sized for a sign-off lookup inside a reconcile pass.

    A few quick retries on connection errors and 5xx; a Retry-After (either
    form) of a few seconds is waited out, a longer one goes back to the caller
    as `GitHubRateLimited` so the pass is not blocked (the verdict fails closed).
    """
    return RetryPolicy(timeout=timeout, max_attempts=3, backoff=0.2, max_backoff=2.0,
                       max_retry_after=5.0)  # fmt: skip


class GitHubClient:
    """Read-only access to one repository's pull requests and reviews."""

    def __init__(
        self,
        repository: str,
        *,
        api_url: str = "https://api.github.com",
        token: str | None = None,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        policy: RetryPolicy | None = None,
    ) -> None:
        if not is_acceptable_api_url(api_url):
            raise ValueError(f"refusing GitHub API URL {api_url!r}: https only (http on loopback)")
        self.repository = repository
        self.api_url = api_url.rstrip("/")
        self._origin = _origin(self.api_url)
        self._token = token
        self._clock = clock
        self._http = JsonHttp(self.api_url, policy=policy or github_policy(timeout),
                              headers=self._auth_headers, allow_http=True)  # fmt: skip
        self._cache: OrderedDict[str, tuple[str, Any, str]] = OrderedDict()
        self._lock = threading.Lock()  # one client may serve several worker threads

    @classmethod
    def for_endpoint(cls, repository: str, endpoint: GitHubEndpoint) -> GitHubClient:
        """A client for `repository` on the API the operator named, with the operator's token."""
        return cls(repository, api_url=endpoint.api_url, token=endpoint.token)

    def __repr__(self) -> str:  # never show the token
        return f"GitHubClient({self.repository!r}, api_url={self.api_url!r})"

    def close(self) -> None:
        self._http.close()

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    # -- endpoints -----------------------------------------------------------------

    def pulls_for_commit(self, sha: str) -> list[dict[str, Any]]:
        githistory.check_oid(sha)
        return self._get_all(f"/repos/{self.repository}/commits/{sha}/pulls")

    def reviews(self, number: int) -> list[dict[str, Any]]:
        return self._get_all(f"/repos/{self.repository}/pulls/{int(number)}/reviews")

    def pull_commits(self, number: int) -> list[dict[str, Any]]:
        return self._get_all(f"/repos/{self.repository}/pulls/{int(number)}/commits")

    def team_members(self, org: str, team_slug: str) -> list[dict[str, Any]]:
        return self._get_all(
            f"/orgs/{urllib.parse.quote(org)}/teams/{urllib.parse.quote(team_slug)}/members"
        )

    # -- transport -----------------------------------------------------------------

    def _get_all(self, path: str) -> list[dict[str, Any]]:
        url: str | None = f"{self.api_url}{path}?per_page=100"
        items: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            if url is None:
                return items
            data, link = self._get(url)
            if not isinstance(data, list):
                raise GitHubError(f"GET {path}: expected a JSON list")
            items.extend(d for d in data if isinstance(d, dict))
            url = self._next(link, path)
        if url is not None:
            raise GitHubError(f"GET {path}: more than {MAX_PAGES} pages")
        return items

    def _next(self, link: str, path: str) -> str | None:
        match = _LINK_NEXT.search(link)
        if not match:
            return None
        target = match.group(1)
        if _origin(target) != self._origin:
            raise GitHubError(f"GET {path}: refusing a pagination link to another origin")
        return target

    def _get(self, url: str) -> tuple[Any, str]:
        # The origin of `url` is the operator's (checked for pagination links): the token
        # goes nowhere else, and JsonHttp follows no redirect.
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}
        with self._lock:
            cached = self._cache.get(url)
        if cached:
            headers["If-None-Match"] = cached[0]
        shown = _shown(url)
        try:
            data, answer = self._http.send("GET", url, headers=headers)
        except NotJson:
            raise GitHubError(f"GET {shown}: the answer is not JSON") from None
        except HttpError as exc:
            if exc.status == 304 and cached:
                return cached[1], cached[2]
            raise self._error(exc, shown) from None
        if data is None:
            raise GitHubError(f"GET {shown}: the answer is not JSON")
        link = answer.get("Link", "")
        etag = answer.get("ETag")
        if etag:
            with self._lock:
                self._cache[url] = (etag, data, link)
                self._cache.move_to_end(url)
                while len(self._cache) > _CACHE_ENTRIES:
                    self._cache.popitem(last=False)
        return data, link

    def _error(self, exc: HttpError, shown: str) -> GitHubError:
        if exc.status == 0:  # no answer: connection refused, reset or timed out
            reason = str(exc).rpartition(": ")[2]
            return GitHubError(f"GET {shown}: cannot reach {self._origin}: {reason}")
        headers = exc.headers
        message = _api_message(exc.body)
        remaining = headers.get("x-ratelimit-remaining")
        retry_after = headers.get("Retry-After")
        if exc.status in {403, 429} and (remaining == "0" or retry_after is not None):
            wait = _wait_seconds(retry_after, headers.get("x-ratelimit-reset"), self._clock())
            when = f"; retry in {wait:.0f} s" if wait is not None else ""
            return GitHubRateLimited(f"GET {shown}: GitHub rate limit exceeded{when}", wait)
        if exc.status < 300:  # an answer over JsonHttp's size cap
            return GitHubError(f"GET {shown}: response too large")
        hint = {
            401: " (the token is missing, expired or revoked)",
            403: " (the token lacks permission)",
            404: " (no such repository or pull request, or the token cannot see it)",
        }.get(exc.status, "")
        return GitHubError(
            f"GET {shown}: HTTP {exc.status}{hint}{': ' + message if message else ''}"
        )


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _shown(url: str) -> str:
    """The URL's path for messages: no query, nothing that could be a credential."""
    return urllib.parse.urlsplit(url).path


def _api_message(body: Any) -> str:
    """GitHub's `message` from an error body (never a header, never the token)."""
    return error_message(body)[:200] if isinstance(body, dict) else ""


def _wait_seconds(retry_after: str | None, reset: str | None, now: float) -> float | None:
    if retry_after is not None:
        wait = parse_retry_after(retry_after, now)  # delta-seconds or an HTTP date
        if wait is not None:
            return wait
    if reset is not None:
        try:
            return max(0.0, float(reset) - now)
        except ValueError:
            return None
    return None


# ---------------------------------------------------------------- evidence


def gather(
    repo: RepoHandle,
    tip: str,
    path: str,
    policy: SignOffPolicy,
    *,
    client: GitHubClient,
    authorization: Authorization,
    branch: str | None,
) -> tuple[ChangeEvidence, Authorization]:
    """Evidence from the pull request that merged the commit into `branch`; teams resolved.

    `branch` is the watched branch's name; None (a detached checkout) means no
    pull request can be shown to have been merged into it.
    """
    base = evidence_git.gather(repo, tip, path, policy)
    if base.lookup_error:
        return base, authorization
    try:
        evidence = _from_pull_requests(client, base, branch)
        if authorization.teams and evidence.approvals:
            authorization = _resolve_teams(client, authorization)
    except GitHubError as exc:
        return _replace(base, lookup_error=str(exc)), authorization
    return evidence, authorization


def _from_pull_requests(
    client: GitHubClient, base: ChangeEvidence, branch: str | None
) -> ChangeEvidence:
    pulls = client.pulls_for_commit(base.commit)
    merged = [p for p in pulls if p.get("merged_at")]
    note = merge_problem(pulls, base.commit, branch, client.repository)
    if note:
        return _replace(base, pull_request_merged=False, review_note=note, approvals=())
    pull = next(p for p in merged if _lands(p, base.commit, branch))
    number = pull.get("number")
    if not isinstance(number, int):
        raise GitHubError("a pull request without a number")
    head = _get(pull, "head", "sha")
    reviews = client.reviews(number)
    authors = [*base.authors, *_pull_authors(client, pull, number)]
    return _replace(
        base,
        pull_request=str(pull.get("html_url") or f"#{number}"),
        pull_request_merged=True,
        authors=tuple(authors),
        approvals=latest_approvals(reviews, head),
    )


def _lands(pull: Mapping[str, Any], commit: str, branch: str | None) -> bool:
    """Merged into `branch`, and its merge (or squash/rebase) commit is `commit`."""
    return (
        bool(pull.get("merged_at"))
        and branch is not None
        and _get(pull, "base", "ref") == branch
        and pull.get("merge_commit_sha") == commit
    )


def merge_problem(
    pulls: list[dict[str, Any]], commit: str, branch: str | None, repository: str
) -> str:
    """Why no pull request in `pulls` brought `commit` onto `branch` ("" when one did)."""
    if any(_lands(p, commit, branch) for p in pulls):
        return ""
    brought = f"commit {commit[:12]} that brought signoff.yaml in"
    merged = [p for p in pulls if p.get("merged_at")]
    if not merged:
        open_ones = ", ".join(f"#{p.get('number')}" for p in pulls)
        return f"{brought} was not merged through a pull request of {repository}" + (
            f" (pull request {open_ones} is not merged)" if open_ones else " (a direct push?)"
        )
    if branch is None:
        return (
            f"the watched branch is not known (a detached checkout), so no pull request can be "
            f"shown to have merged {brought} into it; name it with --branch"
        )
    why = []
    for p in merged:
        number, into = p.get("number"), _get(p, "base", "ref")
        if into != branch:
            why.append(f"#{number} was merged into {str(into)!r}, not the watched {branch!r}")
        else:
            sha = str(p.get("merge_commit_sha") or "")[:12] or "(none)"
            why.append(f"#{number}'s merge commit is {sha}, not {commit[:12]}")
    return (
        f"no pull request merged {brought} into {branch!r}: "
        + "; ".join(why)
        + " (its approvals are for a change that reached the branch some other way)"
    )


def latest_approvals(reviews: list[dict[str, Any]], head_sha: str) -> tuple[Approval, ...]:
    """Each reviewer's standing approval (or withdrawn approval), GitHub's way."""
    latest: dict[str, dict[str, Any]] = {}
    approved_once: set[str] = set()
    ordered = sorted(reviews, key=lambda r: str(r.get("submitted_at") or ""))
    for review in ordered:
        login = str(_get(review, "user", "login")).lower()
        state = review.get("state")
        if not login or state in {"COMMENTED", "PENDING"}:
            continue  # comments do not change a reviewer's state on GitHub
        if state == "APPROVED":
            approved_once.add(login)
        latest[login] = review
    out: list[Approval] = []
    for login, review in latest.items():
        if login not in approved_once:
            continue
        user = review.get("user") or {}
        person = Person(login=str(user.get("login", "")), bot=user.get("type") == "Bot")
        source = f"review {review.get('id')}"
        at = _time(review.get("submitted_at"))
        state = review.get("state")
        if state == "APPROVED" and review.get("commit_id") not in {None, head_sha}:
            commit = str(review.get("commit_id"))[:12]
            out.append(
                Approval(
                    person,
                    source,
                    at,
                    Ignored.STALE,
                    f"approved commit {commit}, not the merged head "
                    f"{head_sha[:12]} (a later push was not approved)",
                )
            )
        elif state == "APPROVED":
            out.append(Approval(person, source, at))
        elif state == "DISMISSED":
            out.append(Approval(person, source, at, Ignored.DISMISSED, "approval was dismissed"))
        else:
            out.append(
                Approval(
                    person,
                    source,
                    at,
                    Ignored.DISMISSED,
                    f"withdrew the approval (latest review: {state})",
                )
            )
    return tuple(out)


def _pull_authors(client: GitHubClient, pull: Mapping[str, Any], number: int) -> list[Person]:
    people = [Person(login=str(_get(pull, "user", "login")))]
    for commit in client.pull_commits(number):
        for role in ("author", "committer"):
            login = _get(commit, role, "login")
            if login and login != "web-flow":  # GitHub's own committer for web edits
                people.append(Person(login=str(login)))
        email = _get(commit, "commit", "author", "email")
        if email:
            people.append(Person(email=str(email)))
    return [p for p in people if p.login or p.email]


def _resolve_teams(client: GitHubClient, authorization: Authorization) -> Authorization:
    logins: list[str] = []
    notes: list[str] = []
    for team in sorted(authorization.teams):
        match = _TEAM.match(team)
        if not match:
            continue
        try:
            members = client.team_members(match.group(1), match.group(2))
        except GitHubRateLimited:
            raise
        except GitHubError as exc:
            notes.append(f"members of @{team} could not be listed ({exc})")
            continue
        logins.extend(str(m.get("login")) for m in members if m.get("login"))
    return authorization.with_team_members(logins, notes)


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, Mapping):
            return ""
        data = data.get(key)
    return data if data is not None else ""


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def _replace(evidence: ChangeEvidence, **changes: Any) -> ChangeEvidence:
    return replace(evidence, **changes)
