"""The http adapter end to end: HttpMarketplace against the simulated marketplace's server."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from marketplace_helpers import StepClock, eicar_package, payload

from controller.core.model import Stage, StageState, Target
from controller.marketplace import wire
from controller.marketplace.api import (
    InvalidState,
    MarketplaceError,
    NotFound,
    SubmissionResult,
    idempotency_key,
)
from controller.marketplace.faults import Fault, FaultConfig, FaultInjector
from controller.marketplace.http_client import HttpMarketplace
from controller.marketplace.server import MarketplaceServer, running_server
from controller.marketplace.simulated import SimulatedMarketplace

OFFER = "contoso-app"
GEN = "sha256:" + "c" * 64
KEY = idempotency_key(OFFER, GEN)


class Sleeps:
    """Records the waits the client asks for instead of waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def sim(tmp_path: Path, clock: StepClock) -> SimulatedMarketplace:
    return SimulatedMarketplace(tmp_path / "m.sqlite3", clock=clock)


@contextmanager
def served(
    sim: SimulatedMarketplace,
    *script: Fault | None,
    config: FaultConfig | None = None,
    **client: Any,
) -> Iterator[tuple[HttpMarketplace, Sleeps, MarketplaceServer]]:
    injector = FaultInjector(config or FaultConfig(), script=script)
    with running_server(sim, faults=injector, max_body=client.pop("max_body", 1 << 24)) as server:
        sleeps = Sleeps()
        options: dict[str, Any] = {"timeout": 5.0, "sleep": sleeps, "jitter": lambda: 1.0}
        yield HttpMarketplace(server.url, **(options | client)), sleeps, server


class TestLifecycleOverHttp:
    """Every protocol call works over HTTP exactly as in-process."""

    def test_submit_find_get_go_live_and_listing(
        self, sim: SimulatedMarketplace, clock: StepClock
    ) -> None:
        with served(sim) as (client, sleeps, _):
            made = client.submit(OFFER, GEN, Target.LIVE, payload(), KEY)
            assert made == sim.get(made.id)
            assert client.find(KEY) == made
            assert client.find("other@key") is None
            with pytest.raises(InvalidState):
                client.go_live(made.id)
            clock.advance(weeks=1, hours=2)
            waiting = client.get(made.id)
            assert waiting.stage(Stage.SIGNOFF).state == StageState.RUNNING
            assert waiting.preview_url
            client.go_live(made.id)
            with pytest.raises(InvalidState):
                client.cancel(made.id)
            clock.advance(days=5)
            assert client.get(made.id).result == SubmissionResult.SUCCEEDED
            assert client.listing(OFFER).live_generation == GEN
            assert client.withdraw(OFFER).withdrawing
            assert sleeps.calls == []

    def test_feedback_travels_with_its_json_path(
        self, sim: SimulatedMarketplace, clock: StepClock
    ) -> None:
        with served(sim) as (client, _, _):
            made = client.submit(OFFER, GEN, Target.PREVIEW, payload(package=eicar_package()), KEY)
            clock.advance(weeks=2)
            failed = client.get(made.id)
        assert failed.result == SubmissionResult.FAILED
        assert [(f.code, f.path) for f in failed.feedback] == [
            ("VirusFound", "$.spec.technicalConfiguration.packageFile")
        ]

    def test_cancel_over_http(self, sim: SimulatedMarketplace) -> None:
        with served(sim) as (client, _, _):
            made = client.submit(OFFER, GEN, Target.LIVE, payload(), KEY)
            assert client.cancel(made.id).result == SubmissionResult.CANCELLED

    def test_unknown_submission_is_not_found(self, sim: SimulatedMarketplace) -> None:
        with served(sim) as (client, _, _), pytest.raises(NotFound):
            client.get("sub-missing")

    def test_withdraw_of_an_offer_never_live_is_invalid_state(
        self, sim: SimulatedMarketplace
    ) -> None:
        with served(sim) as (client, _, _), pytest.raises(InvalidState):
            client.withdraw(OFFER)

    def test_odd_characters_in_names_stay_inside_their_path_segment(
        self, sim: SimulatedMarketplace
    ) -> None:
        with served(sim) as (client, _, _):
            assert client.listing("a/../b?c").offer == "a/../b?c"
            with pytest.raises(NotFound):
                client.get("../offers/x")


class TestRetries:
    """429, 5xx, timeouts and resets are retried; Retry-After is honoured."""

    def test_throttle_is_retried_after_the_announced_delay(self, sim: SimulatedMarketplace) -> None:
        config = FaultConfig(retry_after=3)
        with served(sim, Fault.THROTTLE, Fault.THROTTLE, None, config=config) as (c, sleeps, _):
            made = c.submit(OFFER, GEN, Target.LIVE, payload(), KEY)
        assert sleeps.calls == [3.0, 3.0]
        assert len(sim.submissions()) == 1
        assert made.idempotency_key == KEY

    def test_503_is_retried_with_exponential_backoff(self, sim: SimulatedMarketplace) -> None:
        script = (Fault.ERROR, Fault.ERROR, Fault.ERROR, None)
        with served(sim, *script, backoff=0.5) as (client, sleeps, _):
            client.listing(OFFER)
        assert sleeps.calls == [0.5, 1.0, 2.0]

    def test_backoff_is_jittered_and_capped(self, sim: SimulatedMarketplace) -> None:
        script = (Fault.ERROR,) * 6 + (None,)
        options: dict[str, Any] = {"backoff": 1.0, "max_backoff": 4.0, "max_retries": 6}
        with served(sim, *script, jitter=lambda: 0.0, **options) as (client, sleeps, _):
            client.listing(OFFER)
        assert sleeps.calls == [0.5, 1.0, 2.0, 2.0, 2.0, 2.0]

    def test_reset_after_submit_is_resolved_by_the_idempotency_key(
        self, sim: SimulatedMarketplace
    ) -> None:
        with served(sim, Fault.RESET, None) as (client, sleeps, _):
            made = client.submit(OFFER, GEN, Target.LIVE, payload(), KEY)
        assert len(sleeps.calls) == 1
        assert [s.id for s in sim.submissions()] == [made.id]

    def test_reset_with_no_retries_left_leaves_the_outcome_to_a_key_lookup(
        self, sim: SimulatedMarketplace
    ) -> None:
        with served(sim, Fault.RESET, max_retries=0) as (client, _, _):
            with pytest.raises(MarketplaceError) as caught:
                client.submit(OFFER, GEN, Target.LIVE, payload(), KEY)
            assert caught.value.transient
            found = client.find(KEY)
        assert found is not None
        assert [s.id for s in sim.submissions()] == [found.id]

    def test_reset_after_go_live_retries_harmlessly(
        self, sim: SimulatedMarketplace, clock: StepClock
    ) -> None:
        made = sim.submit(OFFER, GEN, Target.LIVE, payload(), KEY)
        clock.advance(weeks=1, hours=2)
        with served(sim, Fault.RESET, None) as (client, _, _):
            live = client.go_live(made.id)
        assert live.stage(Stage.PUBLISHING).state == StageState.RUNNING

    def test_timeout_is_retried(self, sim: SimulatedMarketplace) -> None:
        config = FaultConfig(timeout_delay=2.0)
        with served(sim, Fault.TIMEOUT, None, config=config, timeout=0.1) as (client, sleeps, _):
            assert client.listing(OFFER).offer == OFFER
        assert len(sleeps.calls) == 1

    def test_exhausted_retries_raise_a_transient_error_with_retry_after(
        self, sim: SimulatedMarketplace
    ) -> None:
        config = FaultConfig(throttle=1.0, retry_after=2)
        with (
            served(sim, config=config, max_retries=2) as (client, sleeps, _),
            pytest.raises(MarketplaceError) as caught,
        ):
            client.listing(OFFER)
        assert caught.value.transient
        assert caught.value.retry_after == 2
        assert sleeps.calls == [2.0, 2.0]

    def test_a_retry_after_longer_than_the_cap_is_handed_to_the_caller(
        self, sim: SimulatedMarketplace
    ) -> None:
        config = FaultConfig(throttle=1.0, retry_after=600)
        with (
            served(sim, config=config, max_retry_after=60) as (client, sleeps, _),
            pytest.raises(MarketplaceError) as caught,
        ):
            client.listing(OFFER)
        assert caught.value.retry_after == 600
        assert sleeps.calls == []

    def test_random_faults_still_converge_to_one_submission(
        self, sim: SimulatedMarketplace, clock: StepClock
    ) -> None:
        config = FaultConfig(error=0.2, throttle=0.15, reset=0.15, retry_after=0, seed=11)
        with served(sim, config=config, max_retries=20) as (client, sleeps, server):
            for _ in range(5):
                made = client.submit(OFFER, GEN, Target.LIVE, payload(), KEY)
            clock.advance(weeks=2)
            client.go_live(made.id)
            clock.advance(days=5)
            assert client.get(made.id).result == SubmissionResult.SUCCEEDED
            assert server.faults is not None
            injected = sum(server.faults.counts.values())
        assert len(sim.submissions()) == 1
        assert injected > 0
        assert len(sleeps.calls) == injected


class TestServerRefusals:
    """The server refuses bad requests with a clear status."""

    def test_oversized_body_is_refused_without_retrying(self, sim: SimulatedMarketplace) -> None:
        big = payload(package=b"PK\x03\x04" + b"x" * 50_000)
        with (
            served(sim, max_body=10_000) as (client, sleeps, _),
            pytest.raises(MarketplaceError, match="413") as caught,
        ):
            client.submit(OFFER, GEN, Target.LIVE, big, KEY)
        assert not caught.value.transient
        assert sleeps.calls == []
        assert sim.submissions() == []

    def test_idempotency_header_must_match_the_body(self, sim: SimulatedMarketplace) -> None:
        body = wire.submit_request_to_json(OFFER, GEN, Target.LIVE, payload(), KEY)
        with running_server(sim) as server:
            request = urllib.request.Request(  # noqa: S310 - loopback test server
                server.url + "/submissions",
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json", "Idempotency-Key": "other"},
                method="POST",
            )
            with pytest.raises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(request, timeout=5)  # noqa: S310 - loopback test server
            assert caught.value.code == 400
            caught.value.close()
        assert sim.submissions() == []

    def test_a_body_that_is_not_json_is_a_400(self, sim: SimulatedMarketplace) -> None:
        with running_server(sim) as server:
            request = urllib.request.Request(  # noqa: S310 - loopback test server
                server.url + "/submissions",
                data=b"{not json",
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with pytest.raises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(request, timeout=5)  # noqa: S310 - loopback test server
            assert caught.value.code == 400
            caught.value.close()

    def test_unknown_route_and_wrong_method(self, sim: SimulatedMarketplace) -> None:
        with running_server(sim) as server:
            for method, path, status in (("GET", "/nope", 404), ("DELETE", "/offers/x", 405)):
                request = urllib.request.Request(server.url + path, method=method)  # noqa: S310
                with pytest.raises(urllib.error.HTTPError) as caught:
                    urllib.request.urlopen(request, timeout=5)  # noqa: S310 - loopback
                assert caught.value.code == status
                caught.value.close()


# --- a marketplace that answers nonsense ------------------------------------------------


@contextmanager
def canned(
    answer: Callable[[BaseHTTPRequestHandler], tuple[int, dict[str, str], bytes]],
) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, headers, body = answer(self)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def json_answer(document: Any, status: int = 200) -> Any:
    return lambda _: (status, {"Content-Type": "application/json"}, json.dumps(document).encode())


class TestUnexpectedAnswers:
    """Surprising answers become MarketplaceError, never a crash."""

    def submission_doc(self, **changes: Any) -> dict[str, Any]:
        doc = {
            "id": "sub-1",
            "offer": OFFER,
            "generation": GEN,
            "idempotencyKey": KEY,
            "target": "live",
            "createdAt": "2026-11-23T09:00:00Z",
            "result": "pending",
            "stages": [{"name": "Validation", "state": "Running"}],
        }
        return doc | changes

    def test_unexpected_enum_value_is_a_marketplace_error(self) -> None:
        doc = self.submission_doc(result="onHold")
        with (
            canned(json_answer(doc)) as url,
            pytest.raises(MarketplaceError, match="onHold") as caught,
        ):
            HttpMarketplace(url, sleep=Sleeps()).get("sub-1")
        assert not caught.value.transient

    def test_unexpected_stage_state_is_a_marketplace_error(self) -> None:
        doc = self.submission_doc(stages=[{"name": "Validation", "state": "Queued"}])
        with canned(json_answer(doc)) as url, pytest.raises(MarketplaceError, match="Queued"):
            HttpMarketplace(url, sleep=Sleeps()).get("sub-1")

    def test_missing_field_is_a_marketplace_error(self) -> None:
        doc = self.submission_doc()
        del doc["generation"]
        with canned(json_answer(doc)) as url, pytest.raises(MarketplaceError, match="generation"):
            HttpMarketplace(url, sleep=Sleeps()).get("sub-1")

    def test_html_instead_of_json_is_a_marketplace_error(self) -> None:
        page = lambda _: (200, {"Content-Type": "text/html"}, b"<html>proxy</html>")  # noqa: E731
        with canned(page) as url, pytest.raises(MarketplaceError, match="not JSON"):
            HttpMarketplace(url, sleep=Sleeps()).listing(OFFER)

    def test_find_answering_another_key_is_a_marketplace_error(self) -> None:
        doc = {"items": [self.submission_doc(idempotencyKey="someone@else")]}
        with canned(json_answer(doc)) as url, pytest.raises(MarketplaceError, match="another key"):
            HttpMarketplace(url, sleep=Sleeps()).find(KEY)

    def test_get_answering_about_another_submission_is_a_marketplace_error(self) -> None:
        # The reconciler trusts the answer's `offer` to say whose submission it is.
        doc = self.submission_doc(id="sub-2", offer="someone-else")
        with canned(json_answer(doc)) as url, pytest.raises(MarketplaceError, match="sub-2"):
            HttpMarketplace(url, sleep=Sleeps()).get("sub-1")

    def test_redirects_are_refused(self) -> None:
        moved = lambda _: (302, {"Location": "http://127.0.0.1:9/elsewhere"}, b"")  # noqa: E731
        with canned(moved) as url, pytest.raises(MarketplaceError, match="redirect") as caught:
            HttpMarketplace(url, sleep=Sleeps()).listing(OFFER)
        assert not caught.value.transient

    def test_retry_after_as_an_http_date_is_honoured(self) -> None:
        calls: list[int] = []

        def answer(_: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
            calls.append(1)
            if len(calls) == 1:
                return 503, {"Retry-After": "Wed, 21 Oct 2026 07:28:10 GMT"}, b"{}"
            return 200, {}, json.dumps({"offer": OFFER}).encode()

        sleeps = Sleeps()
        now = 1792567680.0  # 2026-10-21T07:28:00Z: the date is 10 s later
        with canned(answer) as url:
            HttpMarketplace(url, sleep=sleeps, now=lambda: now).listing(OFFER)
        assert sleeps.calls == [10.0]

    def test_bearer_token_is_sent_and_never_shown_in_errors(self) -> None:
        seen: list[str] = []

        def answer(handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
            seen.append(handler.headers.get("Authorization", ""))
            return 500, {}, b"{}"

        with canned(answer) as url:
            client = HttpMarketplace(url, sleep=Sleeps(), max_retries=0, token="s3cret-token")
            with pytest.raises(MarketplaceError) as caught:
                client.listing(OFFER)
        assert seen == ["Bearer s3cret-token"]
        assert "s3cret" not in str(caught.value)

    def test_connection_refused_is_transient(self) -> None:
        with canned(json_answer({})) as url:
            pass  # the server is gone now; its port refuses connections
        client = HttpMarketplace(url, sleep=Sleeps(), max_retries=1)
        with pytest.raises(MarketplaceError) as caught:
            client.listing(OFFER)
        assert caught.value.transient

    @pytest.mark.parametrize(
        "url",
        ["ftp://x.example", "http://user:pw@x.example", "http://x.example/?a=1", "x.example"],
    )
    def test_bad_base_urls_are_refused(self, url: str) -> None:
        with pytest.raises(ValueError, match="marketplace URL"):
            HttpMarketplace(url)


def test_a_token_is_never_sent_over_plain_http_to_another_host() -> None:
    with pytest.raises(ValueError, match="only sent over https"):
        HttpMarketplace("http://marketplace.example.com", token="s3cret-token")
    # Loopback (the simulated marketplace served locally) and https are fine.
    HttpMarketplace("http://127.0.0.1:8080", token="s3cret-token")
    HttpMarketplace("https://marketplace.example.com", token="s3cret-token")
