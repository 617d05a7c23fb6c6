"""The presentation layer alone: durations, glyphs, time in phase, and the table's exact text."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from cli_helpers import CERT_FINDING, make_status

from controller.core.model import Phase, Stage, StageState, StageStatus, Target
from controller.present.console import make_console, plain
from controller.present.offers import offers_table
from controller.present.progress import progress
from controller.present.timefmt import duration, phase_since
from controller.repo.statusread import OfferEntry

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("span", "shown"),
    [
        (timedelta(days=3, hours=4, minutes=5), "3d 4h"),
        (timedelta(hours=2, minutes=5), "2h 5m"),
        (timedelta(minutes=7, seconds=30), "7m 30s"),
        (timedelta(seconds=45), "45s"),
        (timedelta(days=3, minutes=59), "3d"),
        (timedelta(0), "0s"),
        (timedelta(seconds=-30), "0s"),
    ],
)
def test_duration_keeps_the_two_largest_units(span: timedelta, shown: str) -> None:
    assert duration(span) == shown


def _stages(*states: StageState) -> list[StageStatus]:
    return [StageStatus(name, state) for name, state in zip(Stage, states, strict=True)]


S, R, P, F, K = (
    StageState.SUCCEEDED,
    StageState.RUNNING,
    StageState.PENDING,
    StageState.FAILED,
    StageState.SKIPPED,
)


@pytest.mark.parametrize(
    ("states", "unicode", "ascii_"),
    [
        ((S, S, S, P, P, P), "●●●○○○ 3/6", "###... 3/6"),
        ((S, R, P, P, P, P), "●◐○○○○ 1/6", "#>.... 1/6"),
        ((S, S, S, K, K, K), "●●●··· 3/3", "###--- 3/3"),
        ((S, F, K, K, K, K), "●✗···· 1/2", "#x---- 1/2"),
        ((K, K, K, K, K, K), "-", "-"),
    ],
)
def test_progress_counts_done_over_stages_that_will_run(
    states: tuple[StageState, ...], unicode: str, ascii_: str
) -> None:
    shown = progress(_stages(*states))
    assert shown.plain() == unicode
    assert shown.plain(unicode=False) == ascii_


def test_time_in_a_pipeline_phase_starts_when_its_stage_started() -> None:
    value = make_status("alpha", Phase.CERTIFYING, now=NOW, in_phase=timedelta(days=2))
    certification = value.stages[1]
    assert phase_since(value) == certification.started_at


def test_time_in_a_resting_phase_is_its_latest_event() -> None:
    value = make_status("alpha", Phase.LIVE, now=NOW, in_phase=timedelta(hours=5))
    assert NOW - phase_since(value) == timedelta(hours=5, minutes=10)  # type: ignore[operator]


def test_offers_table_reads_like_kubectl_get() -> None:
    entries = [
        OfferEntry(
            "alpha", make_status("alpha", Phase.CERTIFYING, now=NOW, estimated_live="2026-12-07")
        ),
        OfferEntry("bravo", make_status("bravo", Phase.LIVE, now=NOW, in_phase=timedelta(hours=5))),
        OfferEntry(
            "charlie", make_status("charlie", Phase.REJECTED, now=NOW, feedback=[CERT_FINDING])
        ),
        OfferEntry("delta", make_status("delta", Phase.PREVIEW, now=NOW, target=Target.PREVIEW)),
        OfferEntry("echo", None),
        OfferEntry("foxtrot", None, problem="not a readable status"),
    ]
    console = make_console("never", file=io.StringIO())
    assert plain(console, offers_table(entries, NOW)) == (
        "OFFER    TARGET   PHASE                STAGES      IN PHASE  ETA         READY\n"
        "alpha    live     Certifying           ●◐○○○○ 1/6  2d 3h     2026-12-07  False\n"
        "bravo    live     Live                 ●●●●●● 6/6  5h 10m    -           True\n"
        "charlie  live     Rejected             ●✗○○○○ 1/6  2d 3h     -           False\n"
        "delta    preview  Preview              ●●●··· 3/3  2d 3h     -           True\n"
        "echo     -        (not reconciled)     -           -         -           -\n"
        "foxtrot  -        (unreadable status)  -           -         -           -\n"
    )


def test_colour_console_styles_and_plain_console_does_not() -> None:
    entries = [OfferEntry("bravo", make_status("bravo", Phase.LIVE, now=NOW))]
    coloured, piped = io.StringIO(), io.StringIO()
    make_console("always", file=coloured, env={}).print(offers_table(entries, NOW))
    make_console("auto", file=piped, env={}).print(offers_table(entries, NOW))
    assert "\x1b[" in coloured.getvalue()
    assert "\x1b[" not in piped.getvalue()


def test_no_color_keeps_styles_but_drops_colour_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich: treat the StringIO as a terminal
    entries = [OfferEntry("bravo", make_status("bravo", Phase.LIVE, now=NOW))]
    with_colour, without = io.StringIO(), io.StringIO()
    make_console("auto", file=with_colour, env={}).print(offers_table(entries, NOW))
    make_console("auto", file=without, env={"NO_COLOR": "1"}).print(offers_table(entries, NOW))
    assert "\x1b[32m" in with_colour.getvalue()  # green "True"
    assert "\x1b[32m" not in without.getvalue()
    assert "\x1b[1m" in without.getvalue()  # the bold header stays


@pytest.mark.parametrize("color", ["never", "always"])
def test_repository_text_in_a_cell_is_shown_literally_never_as_markup(color: str) -> None:
    entries = [OfferEntry("[bold red]x[/]", None, problem="[link=https://evil.example]y")]
    out = io.StringIO()
    make_console(color, file=out, env={}).print(offers_table(entries, NOW))
    assert "[bold red]x[/]" in out.getvalue()
