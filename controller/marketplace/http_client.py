"""The `http` marketplace adapter: a Marketplace over a JSON REST API (stdlib urllib only).

Routes (served for the simulated marketplace by `server`):
  POST /submissions                 submit (offer, generation, target, idempotencyKey, payload)
  GET  /submissions?key=KEY         find: {"items": [submission]} or {"items": []}
  GET  /submissions/{id}            get
  POST /submissions/{id}/go-live    go_live
  POST /submissions/{id}/cancel     cancel
  POST /offers/{offer}/withdraw     withdraw
  GET  /offers/{offer}              listing

Retries: 429, 500, 502, 503, 504, timeouts and dropped connections are retried
up to `max_retries` times, waiting as long as `Retry-After` asks (up to
`max_retry_after`; a longer wait is handed back to the caller as a transient
error carrying `retry_after`) or else an exponential backoff with jitter.
Retrying a POST is safe: submit carries the idempotency key (in the body and
as an `Idempotency-Key` header) and the other POSTs are idempotent by
contract. 404 becomes NotFound, 409 InvalidState, other 4xx a non-transient
error; answers that do not have the agreed shape raise `wire.WireError`.
Redirects are refused (they could carry the token to another host).
"""

from __future__ import annotations

import email.utils
import http.client
import ipaddress
import json
import math
import random
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from controller.model import Target

from . import wire
from .api import (
    InvalidState,
    MarketplaceError,
    NotFound,
    OfferListing,
    OfferPayload,
    Submission,
)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RESPONSE_BYTES = 16 * 1024 * 1024


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


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
        if token and parsed.scheme != "https" and not _is_loopback(parsed.hostname):
            # A bearer token over plain HTTP is readable by anyone on the path.
            raise ValueError(f"a marketplace token is only sent over https: {base_url!r}")
        if timeout <= 0 or max_retries < 0 or backoff < 0:
            raise ValueError("timeout must be > 0, max_retries and backoff >= 0")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._jitter = jitter or random.Random().random  # noqa: S311 - jitter, not security
        self._now = now
        self._token = token
        handlers: list[urllib.request.BaseHandler] = [_RefuseRedirects()]
        if _is_loopback(parsed.hostname):
            # A proxy from the environment must not swallow calls to a local server.
            handlers.append(urllib.request.ProxyHandler({}))
        self._opener = urllib.request.build_opener(*handlers)
        self.retries = 0  # total retries made; for tests and benchmarks

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
            data = None if body is None else json.dumps(body, default=str).encode("utf-8")
        except (TypeError, ValueError, RecursionError) as exc:
            raise MarketplaceError(f"cannot encode the request: {exc}", transient=False) from None
        attempt = 0
        while True:
            try:
                return self._send_once(method, path, data, headers or {})
            except MarketplaceError as exc:
                if not exc.transient or attempt >= self.max_retries:
                    raise
                delay = self._delay(attempt, exc.retry_after)
                if delay > self.max_retry_after:
                    raise  # the caller requeues after exc.retry_after instead of blocking here
                attempt += 1
                self.retries += 1
                self._sleep(delay)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        ceiling = min(self.max_backoff, self.backoff * 2.0**attempt)
        return ceiling * (0.5 + 0.5 * self._jitter())  # "equal jitter": never zero, spread out

    def _send_once(
        self, method: str, path: str, data: bytes | None, extra: Mapping[str, str]
    ) -> Any:
        url = self.base_url + path
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - scheme checked
        request.add_header("Accept", "application/json")
        request.add_header("User-Agent", "offerctl")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self._token:
            request.add_header("Authorization", f"Bearer {self._token}")
        for name, value in extra.items():
            request.add_header(name, value)
        where = f"{method} {path.split('?', maxsplit=1)[0]}"
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                raw = _read_capped(response, where)
                return _decode(raw, where)
        except urllib.error.HTTPError as exc:
            with exc:
                raise self._http_error(exc, where) from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, ssl.SSLCertVerificationError):
                raise MarketplaceError(f"{where}: TLS: {reason}", transient=False) from None
            raise MarketplaceError(
                f"{where}: cannot reach the marketplace: {reason}", transient=True
            ) from None
        except TimeoutError:
            raise MarketplaceError(
                f"{where}: no answer within {self.timeout:g}s", transient=True
            ) from None
        except (ConnectionError, http.client.HTTPException, OSError) as exc:
            # Includes a reset after the request was sent: the outcome is unknown.
            raise MarketplaceError(f"{where}: connection failed: {exc!r}", transient=True) from None

    def _http_error(self, exc: urllib.error.HTTPError, where: str) -> MarketplaceError:
        status = exc.code
        try:
            raw = exc.read(MAX_RESPONSE_BYTES)
            code, message = wire.error_from_json(json.loads(raw))
        except (OSError, ValueError, http.client.HTTPException):
            code, message = "", ""
        text = (
            f"{where}: HTTP {status}"
            + (f" {code}" if code else "")
            + (f": {message}" if message else "")
        )
        if status == 404:
            return NotFound(text)
        if status == 409:
            return InvalidState(text)
        if status in RETRY_STATUSES:
            return MarketplaceError(
                text, transient=True, retry_after=self._retry_after(exc.headers.get("Retry-After"))
            )
        if 300 <= status < 400:
            return MarketplaceError(f"{where}: HTTP {status}: redirect refused", transient=False)
        return MarketplaceError(text, transient=False)

    def _retry_after(self, value: str | None) -> float | None:
        """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
        if not value:
            return None
        value = value.strip()
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            seconds = when.timestamp() - self._now()
        if not math.isfinite(seconds):
            return None
        return max(0.0, seconds)


def _read_capped(response: Any, where: str) -> bytes:
    raw: bytes = response.read(MAX_RESPONSE_BYTES + 1)
    if len(raw) > MAX_RESPONSE_BYTES:
        raise MarketplaceError(
            f"{where}: answer larger than {MAX_RESPONSE_BYTES} bytes", transient=False
        )
    return raw


def _decode(raw: bytes, where: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise wire.WireError(f"{where}: the answer is not JSON") from None


def _seg(value: str) -> str:
    """One URL path segment: `/`, `?` and `..` cannot escape it."""
    return urllib.parse.quote(value, safe="")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _the_one_asked(submission_id: str, submission: Submission) -> Submission:
    """The answer must describe the submission asked about: the reconciler trusts its `offer`
    to tell whose submission it is, so an answer about another one is a wire error."""
    if submission.id != submission_id:
        raise wire.WireError(
            f"asked about submission {submission_id!r}, answered about {submission.id!r}"
        )
    return submission
