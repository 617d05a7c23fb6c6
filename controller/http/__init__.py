"""The one door to HTTP: an httpx client with one retry policy (tenacity).

Every outgoing JSON call of offerctl goes through `JsonHttp`:
- a timeout on every call (connect, read, write, pool);
- capped exponential backoff with jitter on connection errors, timeouts, 429
  and 5xx; a `Retry-After` header (delta-seconds or an HTTP date) is honoured
  instead, up to `max_retry_after` (a longer wait goes back to the caller as a
  transient `HttpError` carrying `retry_after`, so a daemon requeues rather
  than blocks);
- redirects are refused (they could carry a bearer token to another host);
- errors never carry request headers, so a token cannot leak through them.

`RetryPolicy` is the single settings object for those knobs (kopf's
`NetworkingSettings` habit); tests pass a `sleep` that records instead of
waiting.
"""

from __future__ import annotations

import email.utils
import ipaddress
import json
import math
import random
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import tenacity

from controller.core.backoff import Backoff

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RESPONSE_BYTES = 16 * 1024 * 1024


class HttpError(Exception):
    """An HTTP call failed. `status` is 0 when no answer came (connection, timeout)."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        transient: bool,
        retry_after: float | None = None,
        body: Any = None,
        unsent: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.transient = transient
        self.retry_after = retry_after
        self.body = body
        self.unsent = unsent  # certainly not acted on (429, refused connection): safe to resend
        # The answer's headers (rate-limit counters, ETag); never the request's.
        self.headers: Mapping[str, str] = headers or {}


class NotJson(HttpError):
    """A 2xx answer whose body is not JSON (e.g. a proxy's HTML page)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to wait for an answer and how to retry; one object for every client."""

    timeout: float = 30.0
    max_attempts: int = 6  # first try included
    backoff: float = 0.5  # first backoff in seconds; doubles each retry
    max_backoff: float = 30.0
    max_retry_after: float = 120.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    # 0..1; None: random. Tests pin it to make the backoff sequence exact.
    jitter: Callable[[], float] | None = field(default=None, compare=False)
    now: Callable[[], float] = field(default=time.time, compare=False)  # for HTTP-date Retry-After

    def __post_init__(self) -> None:
        if self.timeout <= 0 or self.max_attempts < 1 or self.backoff < 0:
            raise ValueError("timeout must be > 0, max_attempts >= 1 and backoff >= 0")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; None if absent."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: str, *, allow_http: bool) -> urllib.parse.SplitResult:
    """A base URL without credentials, query or fragment; plain http only if allowed or loopback."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"URL must be http(s)://HOST[:PORT][/PATH]: {url!r}")
    if parsed.username or parsed.password:
        raise ValueError("URL must not carry credentials; give them through the environment")
    if parsed.query or parsed.fragment:
        raise ValueError(f"URL must not have a query or fragment: {url!r}")
    if parsed.scheme == "http" and not allow_http and not is_loopback(parsed.hostname):
        raise ValueError(f"plain http is only allowed for loopback hosts: {url!r}")
    return parsed


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    url: str
    data: bytes | None
    is_json: bool
    params: Mapping[str, str] | None
    headers: Mapping[str, str] | None
    auth: bool


class _RetryWait(tenacity.wait.wait_base):
    """Retry-After when the server sent one, else capped exponential backoff with jitter."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy
        self._jitter = policy.jitter or random.Random().random  # noqa: S311 - not security

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, HttpError) and exc.retry_after is not None:
            return exc.retry_after
        backoff = Backoff(base=self._policy.backoff, cap=self._policy.max_backoff, jitter=0.5)
        # `jitter()` is how far toward the ceiling: 1.0 waits the whole backoff
        return backoff.delay(retry_state.attempt_number, 1.0 - self._jitter())


def _retryable(policy: RetryPolicy, *, unsent_only: bool) -> Callable[[BaseException], bool]:
    def check(exc: BaseException) -> bool:
        if not isinstance(exc, HttpError) or not exc.transient:
            return False
        if unsent_only and not exc.unsent:
            return False  # a non-idempotent call whose outcome is unknown: the caller looks it up
        # A wait longer than we are willing to block goes back to the caller.
        return exc.retry_after is None or exc.retry_after <= policy.max_retry_after

    return check


class JsonHttp:
    """JSON over HTTP to one base URL, with the project's retry policy.

    `headers` is called for every attempt, so a token refreshed between
    retries is picked up.
    """

    def __init__(
        self,
        base_url: str,
        *,
        policy: RetryPolicy | None = None,
        headers: Callable[[], Mapping[str, str]] | None = None,
        allow_http: bool = False,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        parsed = check_base_url(base_url, allow_http=allow_http)
        self.base_url = base_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self._headers = headers or dict
        self.calls = 0  # requests sent, retries included; for tests and benchmarks
        self.retries = 0
        # A proxy from the environment must not swallow calls to a local server.
        trust_env = not is_loopback(parsed.hostname or "")
        self._client = httpx.Client(
            timeout=httpx.Timeout(self.policy.timeout),
            follow_redirects=False,
            trust_env=trust_env,
            transport=transport,
            headers={"User-Agent": "offerctl", "Accept": "application/json"},
        )

    def close(self) -> None:
        self._client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        retry: bool = True,
    ) -> tuple[Any, httpx.Headers]:
        """One call, transient failures retried: the decoded JSON (None if empty), the headers.

        `retry=False` (non-idempotent calls) retries only failures surely not acted
        on (429, a refused connection); the caller looks any other outcome up.
        """
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        return self.send(method, url, json_body=body, params=params, headers=headers, retry=retry)

    def send(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        retry: bool = True,
        auth: bool = True,
    ) -> tuple[Any, httpx.Headers]:
        """Like `request` for a full URL; `auth=False` sends none of the client's own headers."""
        data = content
        if json_body is not None:
            try:
                data = json.dumps(json_body).encode("utf-8")
            except (TypeError, ValueError, RecursionError) as exc:
                raise HttpError(f"cannot encode the request: {exc}", transient=False) from None
        attempts = self.policy.max_attempts
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(attempts),
            wait=_RetryWait(self.policy),
            retry=tenacity.retry_if_exception(_retryable(self.policy, unsent_only=not retry)),
            sleep=self.policy.sleep,
            before_sleep=self._count_retry,
            reraise=True,
        )
        request = _Request(method, url, data, json_body is not None, params, headers, auth)
        result: tuple[Any, httpx.Headers] = retrying(self._send_once, request)
        return result

    def fetch(self, url: str, *, limit: int = 64 * 1024 * 1024) -> bytes:
        """Raw bytes from a full URL (a SAS link), without the client's own headers; retried."""

        def once() -> bytes:
            self.calls += 1
            try:
                response = self._client.get(url)
            except httpx.TimeoutException:
                raise HttpError(f"GET {_display(url)}: timed out", transient=True) from None
            except httpx.TransportError as exc:
                raise HttpError(f"GET {_display(url)}: {type(exc).__name__}",
                                transient=True) from None  # fmt: skip
            if response.status_code >= 300:
                raise _status_error(f"GET {_display(url)}", response, self.policy.now())
            if len(response.content) > limit:
                raise HttpError(f"GET {_display(url)}: larger than {limit} bytes", transient=False)
            return response.content

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.policy.max_attempts),
            wait=_RetryWait(self.policy),
            retry=tenacity.retry_if_exception(_retryable(self.policy, unsent_only=False)),
            sleep=self.policy.sleep,
            reraise=True,
        )
        data: bytes = retrying(once)
        return data

    def _count_retry(self, _state: tenacity.RetryCallState) -> None:
        self.retries += 1

    def _send_once(self, req: _Request) -> tuple[Any, httpx.Headers]:
        method, url = req.method, req.url
        headers: dict[str, str] = dict(self._headers()) if req.auth else {}
        if req.is_json:
            headers["Content-Type"] = "application/json"
        headers.update(req.headers or {})
        where = f"{method} {_display(url)}"
        self.calls += 1
        try:
            response = self._client.request(
                method, url, content=req.data, params=req.params, headers=headers
            )
        except httpx.TimeoutException:
            raise HttpError(
                f"{where}: no answer within {self.policy.timeout:g}s", transient=True
            ) from None
        except httpx.ConnectError:
            raise HttpError(f"{where}: cannot connect", transient=True, unsent=True) from None
        except httpx.TransportError as exc:
            # Includes a reset after the request was sent: the outcome is unknown.
            raise HttpError(f"{where}: connection failed: {type(exc).__name__}",
                            transient=True) from None  # fmt: skip
        raw = response.content
        if len(raw) > MAX_RESPONSE_BYTES:
            raise HttpError(f"{where}: answer larger than {MAX_RESPONSE_BYTES} bytes",
                            status=response.status_code, transient=False)  # fmt: skip
        if response.status_code >= 300:
            raise _status_error(where, response, self.policy.now())
        if not raw.strip():
            return None, response.headers
        try:
            return json.loads(raw), response.headers
        except (ValueError, RecursionError):
            raise NotJson(f"{where}: the answer is not JSON", status=response.status_code,
                          transient=False) from None  # fmt: skip


def _status_error(where: str, response: httpx.Response, now: float) -> HttpError:
    status = response.status_code
    body: Any
    try:
        body = json.loads(response.content) if response.content.strip() else None
    except (ValueError, RecursionError):
        body = response.text[:500]
    message = error_message(body)
    text = f"{where}: HTTP {status}" + (f": {message}" if message else "")
    if 300 <= status < 400:
        return HttpError(f"{where}: HTTP {status}: redirect refused", status=status,
                         transient=False, headers=response.headers)  # fmt: skip
    transient = status in RETRY_STATUSES
    header = response.headers.get("Retry-After")
    retry_after = parse_retry_after(header, now) if transient else None
    return HttpError(text, status=status, transient=transient, retry_after=retry_after, body=body,
                     unsent=status == 429, headers=response.headers)  # fmt: skip


def error_message(body: Any) -> str:
    """The human message of an error body in the shapes Microsoft and offerctl use."""
    if isinstance(body, str):
        return body.strip()[:500]
    if not isinstance(body, dict):
        return ""
    inner = body.get("error")
    if isinstance(inner, dict):
        code, message = inner.get("code"), inner.get("message")
        return " ".join(str(p) for p in (code, message) if p)[:500]
    if isinstance(inner, str):
        return inner[:500]
    for key in ("message", "title", "detail"):
        if isinstance(body.get(key), str):
            return str(body[key])[:500]
    return ""


def _display(url: str) -> str:
    """A URL as errors show it: path only, never a query (a SAS token lives there)."""
    parts = urllib.parse.urlsplit(url)
    return parts.path or "/"
