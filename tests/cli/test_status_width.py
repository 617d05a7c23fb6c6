"""`offerctl status [OFFER]` on a terminal 60, 80 or 150 columns wide: every column, whole names.

Run through the real command with `--color always` (a terminal as far as
rich knows) and COLUMNS set, as a person's terminal would be; the escape
sequences are stripped before reading the screen.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cli_helpers import CERT_FINDING, env, make_status, offerctl, status_bytes, utcnow
from git_helpers import GitRepos
from rich.console import Console
from rich.table import Table
from rich.text import Text

from controller.core.model import Finding, Phase, Severity
from controller.present.console import plain
from controller.present.fit import FitTable, break_long_words

OFFER = "contoso-field-insights"
PACKAGE = "media/packages/contoso-field-insights-solution-package-1.4.0.zip"
VIRUS = Finding(
    code="VirusFound",
    message=f"{PACKAGE}: the virus scan found the EICAR-Test-File signature",
    path="$.spec.technicalConfiguration.packageFile",
    stage="Certification",
    severity=Severity.ERROR,
    file=f"offers/{OFFER}/{PACKAGE}",
)
SECTIONS = {
    "Stages": ("STAGE", "STATE", "STARTED", "FINISHED", "TOOK", "DEADLINE", "PARTNER CENTER"),
    "Conditions": ("TYPE", "STATUS", "REASON", "AGE", "MESSAGE"),
    "Feedback (2)": ("SEVERITY", "CODE", "STAGE", "PATH", "MESSAGE"),
}
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rejected = make_status(OFFER, Phase.REJECTED, now=utcnow(), feedback=[CERT_FINDING, VIRUS])
    files: dict[str, str | bytes | None] = {
        f"offers/{OFFER}/status.yaml": status_bytes(rejected),
        f"offers/{OFFER}/offer.yaml": "apiVersion: offers.marketplace/v1\nkind: Offer\n",
    }
    return GitRepos(tmp_path_factory.mktemp("width")).init("offers-repo", files)


def screen(repo: Path, width: int, *argv: str) -> list[str]:
    with env(COLUMNS=str(width), NO_COLOR=None):
        ran = offerctl("status", *argv, "--repo", str(repo), "--color", "always")
    assert ran.code == 0, ran.err
    return ANSI.sub("", ran.out).splitlines()


def section(lines: list[str], title: str) -> list[str]:
    start = lines.index(title) + 1
    end = next((i for i in range(start, len(lines)) if lines[i] and not lines[i][0].isspace()
                and lines[i] in {*SECTIONS, "Sign-off"}), len(lines))  # fmt: skip
    return lines[start:end]


@pytest.mark.parametrize("width", [60, 80, 150])
def test_detail_view_keeps_every_column_and_the_whole_file_name(repo: Path, width: int) -> None:
    lines = screen(repo, width, OFFER)
    assert all(len(line.rstrip()) <= width for line in lines), max(map(len, lines))
    assert not any("…" in line for line in lines)  # nothing cut short
    for title, headers in SECTIONS.items():
        text = "\n".join(section(lines, title))
        for header in headers:
            assert re.search(rf"(^|\s){header}(\s|$)", text, re.M), (title, header, text)
    feedback = section(lines, "Feedback (2)")
    joined = "".join(line.strip() for line in feedback)  # a long name may go on over lines
    assert f"(offers/{OFFER}/{PACKAGE})" in joined
    assert "the virus scan found the EICAR-Test-File signature" in " ".join(
        line.strip() for line in feedback
    )
    severities = [line for line in feedback if re.search(r"(^|\s)error(\s|$)", line)]
    assert len(severities) == 2  # both findings keep their SEVERITY
    if width >= 150:  # room for the name on one line: it is never broken
        assert any(f"offers/{OFFER}/{PACKAGE}" in line for line in feedback)


@pytest.mark.parametrize("width", [60, 80, 150])
def test_offers_table_keeps_every_column(repo: Path, width: int) -> None:
    lines = screen(repo, width)
    text = "\n".join(lines)
    for header in ("OFFER", "TARGET", "PHASE", "STAGES", "IN PHASE", "ETA", "READY"):
        assert header in text
    assert OFFER in text and "Rejected" in text
    assert all(len(line.rstrip()) <= width for line in lines)


def rich_table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> Table:
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for header in headers:
        table.add_column(header, no_wrap=True)
    for row in rows:
        table.add_row(*row)
    return table


def test_when_it_fits_it_is_the_plain_table_piped_output_always_was() -> None:
    headers = ("A", "LONGER HEADER", "C")
    rows = [("one", "two words", "3"), ("four", "5", "a/b/c/d")]
    fit = FitTable(*headers)
    for row in rows:
        fit.add_row(*row)
    console = Console(width=200, color_system=None, markup=False)
    assert plain(console, fit) == plain(console, rich_table(headers, rows))


def test_between_one_line_and_stacked_the_cells_wrap_at_spaces() -> None:
    fit = FitTable("NAME", "WORDS")
    fit.add_row("alpha", "some words that wrap")
    assert plain(Console(width=18, color_system=None), fit).splitlines() == [
        "NAME   WORDS",
        "alpha  some words",
        "       that wrap",
    ]
    three = FitTable("A", "B", "C")
    three.add_row("abcdefgh", "ijklmnop", "qrstuvwx")
    three.add_row("1", "2", "3")
    assert plain(Console(width=20, color_system=None), three).splitlines() == [
        "A  abcdefgh", "B  ijklmnop", "C  qrstuvwx", "", "A  1", "B  2", "C  3"
    ]  # fmt: skip


def test_long_words_break_after_a_slash_and_keep_every_character() -> None:
    text = Text(f"see offers/{OFFER}/{PACKAGE} now", style="red")
    broken = break_long_words(text, 30)
    pieces = broken.plain.split("\n")
    assert "".join(pieces) == text.plain
    assert all(piece.endswith("/") for piece in pieces[:-2])
    assert broken.spans and broken.spans[0].style == "red"
    assert break_long_words(Text("short words"), 30).plain == "short words"
