"""The daemon's transition lines (offer, from, to, why), the pass timing, and the stall watch."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from notify_helpers import NOW, rejected, webhook_receiver

from controller.commands import options
from controller.core.model import Phase
from controller.core.redaction import Redactor
from controller.daemon.logging import configure
from controller.daemon.loop import Daemon, DaemonConfig, PassReport
from controller.daemon.transitions import log_transitions
from controller.notify import sender
from controller.notify.ledger import Ledger
from controller.notify.sender import Notifier, open_targets
from controller.notify.stall import StallWatch
from controller.reconcile.reconciler import PassResult, Transition


@contextmanager
def logged(json_lines: bool) -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = configure(stream=stream, environ={}, json_lines=json_lines, level=logging.DEBUG)
    try:
        yield stream
    finally:
        logging.getLogger("controller").removeHandler(handler)


def result() -> PassResult:
    return PassResult(
        base="0" * 40,
        commit="1" * 40,
        full=True,
        evaluated=("contoso-x",),
        written=("contoso-x",),
        transitions=(Transition("contoso-x", Phase.CERTIFYING, Phase.REJECTED),),
        in_flight=(),
        errors={},
        statuses={"contoso-x": rejected()},
    )


def test_a_transition_is_one_json_line_naming_offer_from_to_and_why() -> None:
    with logged(json_lines=True) as stream:
        assert log_transitions(result()) == 1
    (line,) = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert line["offer"] == "contoso-x"
    assert (line["from"], line["to"]) == ("Certifying", "Rejected")
    assert line["why"] == "CertificationRejected: certification returned 2 findings"
    assert line["msg"].startswith("moved Certifying -> Rejected: CertificationRejected")


def test_a_transition_reads_as_one_plain_line_in_text_format() -> None:
    with logged(json_lines=False) as stream:
        log_transitions(result())
    (line,) = stream.getvalue().splitlines()
    assert line.split(" ", 1)[1].startswith("info    contoso-x moved Certifying -> Rejected: ")
    assert "from=" not in line and "why=" not in line  # said once, in words


def test_the_pass_line_times_the_pass_and_says_so() -> None:
    clock = [100.0]

    def reconcile(offers: frozenset[str] | None) -> PassReport:
        clock[0] += 2.5  # the pass: read, marketplace calls, commit, push
        return PassReport(committed=True)

    daemon = Daemon(reconcile, monotonic=lambda: clock[0])
    with logged(json_lines=True) as stream:
        daemon._run_pass({"a"})
    (line,) = [json.loads(x) for x in stream.getvalue().splitlines() if "pass done" in x]
    assert line["pass_seconds"] == 2.5
    assert "seconds" not in line


def test_a_stalled_loop_is_announced_once_per_stall(tmp_path: Path) -> None:
    age: list[float | None] = [10.0]
    announced = []
    watch = StallWatch(lambda: age[0], 300.0, announced.append, part="", wall=lambda: NOW)
    assert watch.check() is None
    age[0] = 400.0
    first = watch.check()
    assert first is not None and first.kind.value == "controller-stalled"
    age[0] = 500.0
    assert watch.check() is None  # the same stall
    age[0] = 1.0
    assert watch.check() is None
    age[0] = 301.0
    again = watch.check()
    assert again is not None and again.id != first.id


def test_the_stall_threshold_follows_the_daemons_measured_one() -> None:
    """Passed as a function (`Pacing.stall_after`), the threshold is asked at each look:
    a loop whose batches got slower is not a stall until the longer threshold passes."""
    limit = [300.0]
    watch = StallWatch(lambda: 400.0, lambda: limit[0], lambda event: None, wall=lambda: NOW)
    limit[0] = 600.0  # the daemon measured long batches: /healthz waits longer too
    assert watch.check() is None
    limit[0] = 350.0
    event = watch.check()
    assert event is not None and "350" in event.body


def test_a_stall_reaches_the_webhook_from_the_watch_thread(tmp_path: Path) -> None:
    daemon = Daemon(lambda offers: PassReport(), config=DaemonConfig(stall_after=0.1))
    with webhook_receiver() as hooks:
        notifier = Notifier(
            open_targets([f"json://127.0.0.1:{hooks.port}/"]),
            Ledger(tmp_path, "main"),
            redactor=Redactor(),
        )
        daemon._alive = True  # a loop that began an iteration and never finished it
        daemon._heartbeat -= 1.0
        watch = StallWatch(daemon.stall_age, 0.1, notifier.announce, every=0.02)
        watch.start()
        assert hooks.arrived.wait(10)
        watch.stop()
        notifier.close()
    assert [b["title"] for b in hooks.bodies] == ["offerctl: the daemon is stalled"]


def test_the_parser_spells_the_notify_defaults_as_the_sender_does() -> None:
    assert options.ENV_NOTIFY == sender.ENV_NOTIFY
    assert options.ENV_NOTIFY_RATE == sender.ENV_NOTIFY_RATE
    assert options.NOTIFY_RATE == sender.DEFAULT_RATE
