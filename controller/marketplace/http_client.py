"""The `http` marketplace adapter: a Marketplace over a JSON REST API (via `controller.http`).

Routes (served for the simulated marketplace by `server`):
  POST /submissions                 submit (offer, generation, target, idempotencyKey, payload)
  GET  /submissions?key=KEY         find: {"items": [submission]} or {"items": []}
  GET  /submissions/{id}            get
  POST /submissions/{id}/go-live    go_live
  POST /submissions/{id}/cancel     cancel
  POST /offers/{offer}/withdraw     withdraw
  GET  /offers/{offer}              listing

Retries (the project's one policy, `controller.http.RetryPolicy`): 429, 500,
502, 503, 504, timeouts and dropped connections are retried up to
`max_retries` times, waiting as long as `Retry-After` asks (up to
`max_retry_after`; a longer wait is handed back to the caller as a transient
error carrying `retry_after`) or else an exponential backoff with jitter.
Retrying a POST is safe: submit carries the idempotency key (in the body and
as an `Idempotency-Key` header) and the other POSTs are idempotent by
contract. 404 becomes NotFound, 409 InvalidState, other 4xx a non-transient
error; answers that do not have the agreed shape raise `wire.WireError`.
Redirects are refused (they could carry the token to another host).
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from controller.core.model import Target
from controller.http import HttpError, JsonHttp, NotJson, RetryPolicy, is_loopback

from . import wire
from .api import (
    InvalidState,
    MarketplaceError,
    NotFound,
    OfferListing,
    OfferPayload,
    Submission,
)


class HttpMarketplace:
    """A Marketplace reached over HTTP(S)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        max_retry_after: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] | None = None,
        now: Callable[[], float] = time.time,
        token: str | None = None,
    ) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"marketplace URL must be http(s)://HOST[:PORT][/PATH]: {base_url!r}")
        if parsed.username or parsed.password:
            raise ValueError(
                "marketplace URL must not carry credentials; use OFFERCTL_MARKETPLACE_TOKEN"
            )
        if parsed.query or parsed.fragment:
            raise ValueError(f"marketplace URL must not have a query or fragment: {base_url!r}")
        if token and parsed.scheme != "https" and not is_loopback(parsed.hostname):
            # A bearer token over plain HTTP is readable by anyone on the path.
            raise ValueError(f"a marketplace token is only sent over https: {base_url!r}")
        if timeout <= 0 or max_retries < 0 or backoff < 0:
            raise ValueError("timeout must be > 0, max_retries and backoff >= 0")
        self.base_url = base_url.rstrip("/")
        self._token = token
        policy = RetryPolicy(
            timeout=timeout,
            max_attempts=max_retries + 1,
            backoff=backoff,
            max_backoff=max_backoff,
            max_retry_after=max_retry_after,
            sleep=sleep,
            jitter=jitter,
            now=now,
        )
        self._http = JsonHttp(self.base_url, policy=policy, headers=self._auth, allow_http=True)

    @property
    def retries(self) -> int:
        """Total retries made; for tests and benchmarks."""
        return self._http.retries

    def close(self) -> None:
        self._http.close()

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    # --- the Marketplace protocol ---------------------------------------------------------

    def submit(
        self, offer: str, generation: str, target: Target, payload: OfferPayload, key: str
    ) -> Submission:
        body = wire.submit_request_to_json(offer, generation, target, payload, key)
        headers = {"Idempotency-Key": key} if key.isascii() else {}
        data = self._request("POST", "/submissions", body=body, headers=headers)
        return wire.submission_from_json(data)

    def find(self, key: str) -> Submission | None:
        query = urllib.parse.urlencode({"key": key})
        items = wire.submissions_from_json(self._request("GET", f"/submissions?{query}"))
        for item in items:
            if item.idempotency_key == key:
                return item
        if items:
            raise wire.WireError(f"lookup of key {key!r} answered a submission with another key")
        return None

    def get(self, submission_id: str) -> Submission:
        data = self._request("GET", f"/submissions/{_seg(submission_id)}")
        return _the_one_asked(submission_id, wire.submission_from_json(data))

    def go_live(self, submission_id: str) -> Submission:
        data = self._request("POST", f"/submissions/{_seg(submission_id)}/go-live", body={})
        return _the_one_asked(submission_id, wire.submission_from_json(data))

    def cancel(self, submission_id: str) -> Submission:
        data = self._request("POST", f"/submissions/{_seg(submission_id)}/cancel", body={})
        return _the_one_asked(submission_id, wire.submission_from_json(data))

    def withdraw(self, offer: str) -> OfferListing:
        data = self._request("POST", f"/offers/{_seg(offer)}/withdraw", body={})
        return wire.listing_from_json(data)

    def listing(self, offer: str) -> OfferListing:
        return wire.listing_from_json(self._request("GET", f"/offers/{_seg(offer)}"))

    # --- transport ------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        try:
            data, _ = self._http.request(method, path, body=body, headers=headers)
        except HttpError as exc:
            raise _marketplace_error(exc) from None
        return data


def _marketplace_error(exc: HttpError) -> MarketplaceError:
    code, message = wire.error_from_json(exc.body)
    text = str(exc)
    if code or message:
        where = text.split(": HTTP ", 1)[0]
        text = (
            f"{where}: HTTP {exc.status}"
            + (f" {code}" if code else "")
            + (f": {message}" if message else "")
        )
    if exc.status == 404:
        return NotFound(text)
    if exc.status == 409:
        return InvalidState(text)
    if isinstance(exc, NotJson):
        return wire.WireError(text)
    return MarketplaceError(text, transient=exc.transient, retry_after=exc.retry_after)


def _seg(value: str) -> str:
    """One URL path segment: `/`, `?` and `..` cannot escape it."""
    return urllib.parse.quote(value, safe="")


def _the_one_asked(submission_id: str, submission: Submission) -> Submission:
    """The answer must describe the submission asked about: the reconciler trusts its `offer`
    to tell whose submission it is, so an answer about another one is a wire error."""
    if submission.id != submission_id:
        raise wire.WireError(
            f"asked about submission {submission_id!r}, answered about {submission.id!r}"
        )
    return submission
