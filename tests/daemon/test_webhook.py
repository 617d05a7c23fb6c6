"""POST /hooks/git: only correctly signed pushes queue work; anything else changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from daemon_helpers import RecordingReconcile, http, running, wait_until

from controller.daemon.loop import Daemon, DaemonConfig
from controller.daemon.webhook import offer_of_path, parse_push, secret_from_env, sign, verify
from controller.daemon.workqueue import ALL

SECRET = b"correct horse battery staple"


def push(*paths: str, ref: str = "refs/heads/main", **extra: Any) -> bytes:
    payload = {
        "ref": ref,
        "commits": [{"id": "c1", "added": [], "modified": list(paths), "removed": []}],
        **extra,
    }
    return json.dumps(payload).encode()


class TestVerify:
    """The HMAC check itself."""

    def test_a_correct_signature_verifies(self) -> None:
        body = push("offers/a/offer.yaml")
        assert verify(SECRET, body, sign(SECRET, body))

    @pytest.mark.parametrize(
        "header",
        [None, "", "sha256=", "sha1=abc", "sha256=" + "0" * 64, sign(b"other secret", b"{}")],
    )
    def test_anything_else_is_refused(self, header: str | None) -> None:
        assert not verify(SECRET, b"{}", header)

    def test_a_body_changed_after_signing_is_refused(self) -> None:
        body = push("offers/a/offer.yaml")
        assert not verify(SECRET, body + b" ", sign(SECRET, body))

    def test_no_secret_accepts_nothing(self) -> None:
        assert not verify(None, b"{}", sign(b"", b"{}"))
        assert not verify(b"", b"{}", sign(b"", b"{}"))

    def test_the_secret_comes_from_the_named_variable(self) -> None:
        assert secret_from_env("HOOK", {"HOOK": "s3cret"}) == b"s3cret"
        assert secret_from_env("HOOK", {"HOOK": ""}) is None
        assert secret_from_env("HOOK", {}) is None


class TestPushPayload:
    """Which keys a push asks for."""

    @pytest.mark.parametrize(
        ("body", "keys"),
        [
            (push("offers/a/offer.yaml", "offers/b/logo.png"), {"a", "b"}),
            (push("offers/a/status.yaml"), set()),  # our own status writes come back
            (push("publishing.yaml"), {ALL}),
            (push("CODEOWNERS", "offers/a/offer.yaml"), {ALL}),
            (push("offers/a/offer.yaml", forced=True), {ALL}),
            (push("offers/a/offer.yaml", created=True), {ALL}),
            (json.dumps({"ref": "refs/heads/main", "commits": []}).encode(), {ALL}),
            (json.dumps({"ref": "refs/heads/main"}).encode(), {ALL}),
            (
                json.dumps(
                    {"ref": "refs/heads/main", "commits": [{"modified": ["offers/a/x"]}] * 20}
                ).encode(),
                {ALL},
            ),  # GitHub truncates the list at 20: it may not be everything
            (push("offers/../x"), {ALL}),
        ],
    )
    def test_keys(self, body: bytes, keys: set[str]) -> None:
        assert set(parse_push(body).keys) == keys

    @pytest.mark.parametrize("body", [b"[]", b"{}", b"not json", b'{"ref": 3}'])
    def test_non_push_bodies_are_value_errors(self, body: bytes) -> None:
        with pytest.raises(ValueError):
            parse_push(body)

    @pytest.mark.parametrize(
        ("path", "offer"),
        [("offers/a/offer.yaml", "a"), ("offers/a", None), ("offers//x", None), ("x/a/b", None)],
    )
    def test_offer_of_path(self, path: str, offer: str | None) -> None:
        assert offer_of_path(path) == offer


@pytest.fixture
def served() -> Iterator[tuple[Daemon, RecordingReconcile, str]]:
    reconcile = RecordingReconcile()
    config = DaemonConfig(heartbeat=0.2)
    daemon = Daemon(
        reconcile, config=config, branch="main", listen=("127.0.0.1", 0), webhook_secret=SECRET
    )
    with running(daemon):
        reconcile.wait_for(1)  # the first, full pass
        address = daemon.http_address
        assert address is not None
        yield daemon, reconcile, f"http://127.0.0.1:{address[1]}/hooks/git"


def deliver(url: str, body: bytes, signature: str | None, event: str = "push") -> tuple[int, str]:
    headers = {"Content-Type": "application/json", "X-GitHub-Event": event}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return http("POST", url, body, headers)


class TestOverHttp:
    """Real HTTP on 127.0.0.1:0 against a running daemon."""

    def test_a_signed_push_queues_the_offers_it_touched(self, served: Any) -> None:
        _daemon, reconcile, url = served
        body = push("offers/contoso/offer.yaml")
        status, text = deliver(url, body, sign(SECRET, body))
        assert (status, text.strip()) == (202, "queued: contoso")
        assert reconcile.wait_for(2)[1] == frozenset({"contoso"})

    @pytest.mark.parametrize("signature", [None, "sha256=" + "ab" * 32, sign(b"guess", b"{}")])
    def test_unsigned_or_mis_signed_pushes_get_401_and_nothing_happens(
        self, served: Any, signature: str | None
    ) -> None:
        daemon, reconcile, url = served
        body = push("offers/contoso/offer.yaml")
        status, _ = deliver(url, body, signature)
        assert status == 401
        assert len(daemon.queue) == 0
        assert daemon.metrics.triggers.labels(source="webhook")._value.get() == 0
        assert reconcile.snapshot() == [None]

    def test_a_push_to_another_branch_is_acknowledged_and_ignored(self, served: Any) -> None:
        daemon, _reconcile, url = served
        body = push("offers/contoso/offer.yaml", ref="refs/heads/feature")
        status, text = deliver(url, body, sign(SECRET, body))
        assert status == 202
        assert "not the watched branch" in text
        assert len(daemon.queue) == 0

    def test_ping_answers_pong(self, served: Any) -> None:
        _daemon, _reconcile, url = served
        body = b'{"zen": "Keep it logically awesome."}'
        assert deliver(url, body, sign(SECRET, body), event="ping") == (200, "pong\n")

    def test_a_signed_body_that_is_not_a_push_is_a_400(self, served: Any) -> None:
        _daemon, _reconcile, url = served
        body = b"[1, 2]"
        assert deliver(url, body, sign(SECRET, body))[0] == 400

    def test_an_oversized_delivery_is_refused_before_reading_it(self, served: Any) -> None:
        _daemon, _reconcile, url = served
        status, _ = http("POST", url, b"x", {"Content-Length": str(50 * 1024 * 1024)})
        assert status == 413

    def test_other_paths_are_404(self, served: Any) -> None:
        _daemon, _reconcile, url = served
        assert http("POST", url.replace("/hooks/git", "/hooks/other"), b"{}")[0] == 404


def test_without_a_secret_the_endpoint_refuses_everything() -> None:
    reconcile = RecordingReconcile()
    daemon = Daemon(reconcile, config=DaemonConfig(heartbeat=0.2), listen=("127.0.0.1", 0))
    with running(daemon):
        reconcile.wait_for(1)
        address = daemon.http_address
        assert address is not None
        body = push("offers/a/offer.yaml")
        status, text = deliver(f"http://127.0.0.1:{address[1]}/hooks/git", body, sign(b"", body))
        assert status == 503
        assert "no secret configured" in text
        wait_until(lambda: len(reconcile.snapshot()) == 1, what="no second pass")
        assert len(daemon.queue) == 0
