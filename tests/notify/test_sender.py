"""Sending through apprise to real local receivers: e-mail (aiosmtpd) and a JSON webhook."""

from __future__ import annotations

import email
import json
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from email.message import Message
from pathlib import Path

import pytest
from notify_helpers import (
    NOW,
    awaiting,
    free_port,
    live,
    refused_port,
    rejected,
    smtp_server,
    webhook_receiver,
)

from controller.core.errors import UsageError
from controller.core.redaction import Redactor, secret_values
from controller.notify.ledger import MAX_TRIES, Ledger, State
from controller.notify.sender import Notifier, notify_urls, open_targets, url_secrets, utc_now


def notifier(
    root: Path,
    urls: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    rate: str = "100/minute",
    counts: Counter[tuple[str, str]] | None = None,
    owns: object = None,
    clock: Callable[[], datetime] | None = None,
) -> Notifier:
    tally = counts if counts is not None else Counter()
    made = Notifier(
        open_targets(urls, timeout=2.0),
        Ledger(root, "main"),
        redactor=Redactor((*secret_values(env or {}), *url_secrets(urls))),
        rate=rate,
        count=lambda kind, outcome: tally.update([(kind, outcome)]),
        owns=owns if callable(owns) else (lambda offer: True),
        clock=clock or utc_now,
    )
    made.baseline([])  # notifications "enabled" on an empty branch: everything after is news
    return made


def json_url(port: int) -> str:
    return f"json://127.0.0.1:{port}/offerctl/hook"


def text_of(raw: str) -> tuple[str, str]:
    message: Message = email.message_from_string(raw)
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return str(message["Subject"]), payload.decode("utf-8")
    raise AssertionError("no text part")


def test_a_rejection_arrives_by_email_with_findings_and_fix_location(tmp_path: Path) -> None:
    with smtp_server() as box:
        url = f"mailto://127.0.0.1:{box.port}?from=offerctl@example.com&to=ops@example.com"
        sender = notifier(tmp_path, [url])
        assert sender.observe({"contoso-x": rejected()}) == 1
        assert sender.drain(10)
        sender.close()
    (raw,) = box.messages
    subject, body = text_of(raw)
    assert subject == "offerctl: contoso-x rejected by certification"
    assert "offers/contoso-x/offer.yaml ($.spec.listings.en-us.name): ListingNameTooLong" in body
    assert "offers/contoso-x/offer.yaml:17" in body
    assert "Fix: edit offers/contoso-x/offer.yaml" in body


def test_each_event_goes_out_once_across_a_restart(tmp_path: Path) -> None:
    with webhook_receiver() as hooks:
        first = notifier(tmp_path, [json_url(hooks.port)])
        first.observe({"contoso-x": rejected()})
        assert first.drain(10)
        first.close()
        second = notifier(tmp_path, [json_url(hooks.port)])  # the daemon restarted
        assert second.resume() == 0
        assert second.observe({"contoso-x": rejected()}) == 0
        second.observe({"contoso-x": awaiting()})
        assert second.drain(10)
        second.close()
    titles = [b["title"] for b in hooks.bodies]
    assert titles == [
        "offerctl: contoso-x rejected by certification",
        "offerctl: contoso-x preview ready for sign-off",
    ]
    assert "offerctl signoff contoso-x" in hooks.bodies[1]["message"]


def test_what_a_run_left_pending_is_sent_by_the_next(tmp_path: Path) -> None:
    port = free_port()
    counts: Counter[tuple[str, str]] = Counter()
    down = notifier(tmp_path, [json_url(port)], counts=counts, clock=lambda: NOW)  # not up yet
    down.observe({"contoso-x": live()})
    assert down.drain(10)
    down.close()
    assert counts[("live", "failed")] == 1
    with webhook_receiver(port) as hooks:
        later = NOW + timedelta(minutes=2)  # past the first wait after a failure
        up = notifier(tmp_path, [json_url(port)], clock=lambda: later)
        assert up.resume() == 1
        assert up.drain(10)
        up.close()
    assert [b["title"] for b in hooks.bodies] == ["offerctl: contoso-x is live"]


def test_a_refused_target_neither_blocks_nor_stops_the_others(tmp_path: Path) -> None:
    counts: Counter[tuple[str, str]] = Counter()
    clock = [NOW]
    with webhook_receiver() as hooks:
        sender = notifier(
            tmp_path,
            [json_url(refused_port()), json_url(hooks.port)],
            counts=counts,
            clock=lambda: clock[0],
        )
        started = time.monotonic()
        sender.observe({"contoso-x": rejected()})
        assert time.monotonic() - started < 0.5  # the pass only records and queues
        assert sender.drain(10)
        assert len(hooks.bodies) == 1
        sender.observe({"contoso-x": rejected()})  # the next pass, too soon to try again
        assert sender.drain(10)
        assert counts[("certification-rejected", "failed")] == 1
        for _ in range(MAX_TRIES - 1):  # later passes, each after the target's wait
            clock[0] += timedelta(hours=3)
            sender.observe({"contoso-x": rejected()})
            assert sender.drain(10)
        sender.close()
    assert len(hooks.bodies) == 1  # the working target had it once
    assert counts[("certification-rejected", "failed")] == MAX_TRIES
    assert counts[("certification-rejected", "dropped")] == 1
    page = Ledger(tmp_path, "main").load(Ledger(tmp_path, "main").offer_path("contoso-x"))
    assert [e.state for e in page.entries.values()] == [State.DROPPED]


def test_no_secret_reaches_a_message_or_the_ledger(tmp_path: Path) -> None:
    token = "ghp_0123456789abcdefSECRET"
    sas = "https://acct.blob.core.windows.net/pkg/app.zip?sv=2024-05-04&sig=AbCdEf0123%2BxyZ%3D"
    leaked = rejected(message=f"package at {sas} refused; token {token}")
    with webhook_receiver() as hooks:
        sender = notifier(tmp_path, [json_url(hooks.port)], env={"OFFERCTL_GITHUB_TOKEN": token})
        sender.observe({"contoso-x": leaked})
        assert sender.drain(10)
        sender.close()
    (body,) = hooks.bodies
    text = json.dumps(body)
    assert token not in text and "AbCdEf0123" not in text
    assert "sig=***" in body["message"] and "token ***" in body["message"]
    ledger_text = "".join(p.read_text() for p in (tmp_path / "notify").rglob("*.json"))
    assert "AbCdEf0123" not in ledger_text and token not in ledger_text


def test_enabling_notifications_does_not_announce_what_already_holds(tmp_path: Path) -> None:
    with webhook_receiver() as hooks:
        sender = Notifier(
            open_targets([json_url(hooks.port)]),
            Ledger(tmp_path, "main"),
            redactor=Redactor(),
        )
        assert sender.baseline([live("old")]) == 1
        assert sender.baseline([live("old")]) == 0  # once per branch
        assert sender.observe({"old": live("old"), "new": live("new")}) == 1
        assert sender.drain(10)
        sender.close()
    assert [b["title"] for b in hooks.bodies] == ["offerctl: new is live"]


def test_only_the_shard_owning_an_offer_sends_its_events(tmp_path: Path) -> None:
    with webhook_receiver() as hooks:
        sender = notifier(tmp_path, [json_url(hooks.port)], owns=lambda offer: offer != "theirs")
        assert sender.observe({"theirs": live("theirs"), "mine": live("mine")}) == 1
        assert sender.drain(10)
        sender.close()
    assert [b["title"] for b in hooks.bodies] == ["offerctl: mine is live"]
    assert not Ledger(tmp_path, "main").offer_path("theirs").exists()


def test_a_target_over_its_rate_waits_and_closing_does_not_hang(tmp_path: Path) -> None:
    counts: Counter[tuple[str, str]] = Counter()
    with webhook_receiver() as hooks:
        sender = notifier(tmp_path, [json_url(hooks.port)], rate="2/minute", counts=counts)
        sender.observe({f"o{i}": live(f"o{i}") for i in range(3)})
        assert not sender.drain(1.0)
        started = time.monotonic()
        sender.close(timeout=0.1)
        assert time.monotonic() - started < 2.0
    assert len(hooks.bodies) == 2
    assert counts[("live", "rate_limited")] == 1
    pending = Ledger(tmp_path, "main").load(Ledger(tmp_path, "main").offer_path("o2"))
    assert [e.state for e in pending.entries.values()] == [State.PENDING]  # for the next run


def test_tokens_in_target_urls_are_masked_but_plain_words_are_not() -> None:
    redact = Redactor(
        url_secrets(
            [
                "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnl4zkcOXrIdev/#ops",
                "json://hooks.example.com/offerctl",
                "mailto://alice:pw-4711@smtp.example.com",
            ]
        )
    )
    text = "offerctl: T1JJ3T3L2 TIiajkdnl4zkcOXrIdev pw-4711 ops"
    assert redact(text) == "offerctl: *** *** *** ops"


def test_targets_come_from_flags_and_the_environment_only() -> None:
    env = {"OFFERCTL_NOTIFY": "json://a/x  mailto://b\njson://a/x"}
    assert notify_urls(["slack://t1/t2/t3"], env) == [
        "slack://t1/t2/t3",
        "json://a/x",
        "mailto://b",
    ]


def test_a_url_apprise_does_not_know_is_a_usage_error_without_echoing_it() -> None:
    with pytest.raises(UsageError, match="'nosuch' is not a notification URL") as caught:
        open_targets(["nosuch://user:hunter2@host/"])
    assert "hunter2" not in str(caught.value)


def test_a_bad_rate_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--notify-rate"):
        notifier(tmp_path, ["json://127.0.0.1:1/"], rate="often")
