"""Folder names from the repository: one that is not UTF-8 is skipped, bidi and control
characters are never printed raw, on the terminal or in the controller's commit message.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from git_helpers import GitRepos, git
from robust_helpers import FAST, no_offerctl_env, offerctl_here, offers_repo

from controller.core.escaping import EscapingStream, printable, terminal_safe

GOOD = "fabrikam-case-triage"
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE
pytestmark = pytest.mark.usefixtures("no_offerctl_env")
__all__ = ["no_offerctl_env"]


def add_raw_folder(repo: Path, name: bytes, message: str) -> None:
    folder = repo / "offers" / os.fsdecode(name)  # the raw bytes, through surrogateescape
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "offer.yaml").write_bytes(b"apiVersion: offers.marketplace/v1\nkind: Offer\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


class TestNonUtf8FolderName:
    """A folder whose name is not UTF-8 is skipped with a warning; the others go on."""

    def test_full_and_incremental_passes_skip_it_and_exit_0(
        self, gitrepos: GitRepos, caplog: pytest.LogCaptureFixture
    ) -> None:
        repo = offers_repo(gitrepos, [GOOD])
        add_raw_folder(repo, b"bad-\xff\xfe", "Add a folder with a Latin-1 name")

        first = offerctl_here("reconcile", "--repo", str(repo), *FAST)

        assert first.code == 0, first.err
        assert "skipping folder offers/bad-\\xff\\xfe" in caplog.text
        assert f"offers/{GOOD}/status.yaml" in git(repo, "ls-files", "offers")
        tree = git(repo, "ls-tree", "-r", "--name-only", "HEAD", "--", "offers").splitlines()
        assert [p for p in tree if p.startswith('"offers/bad-')] == [
            '"offers/bad-\\377\\376/offer.yaml"'
        ]  # no status.yaml was written there

        caplog.clear()
        add_raw_folder(repo, b"bad-\xff\xfe/more", "Touch it again (an incremental pass)")
        second = offerctl_here("reconcile", "--repo", str(repo), *FAST)

        assert second.code == 0, second.err
        assert "skipping folder offers/'bad-\\udcff\\udcfe'" in caplog.text

    def test_status_lists_the_good_offers(self, gitrepos: GitRepos) -> None:
        repo = offers_repo(gitrepos, [GOOD])
        add_raw_folder(repo, b"caf\xe9", "Add a folder with a Latin-1 name")

        ran = offerctl_here("status", "--repo", str(repo))

        assert ran.code == 0, ran.err
        assert GOOD in ran.out
        assert "\udce9" not in ran.out + ran.err


class TestBidiAndControlCharacters:
    """Right-to-left overrides and terminal escapes in names are shown as escapes."""

    def test_reconcile_output_and_commit_message_escape_a_bidi_folder_name(
        self, gitrepos: GitRepos
    ) -> None:
        name = f"invoice{RLO}fdp.exe"
        repo = offers_repo(gitrepos, [GOOD, name])

        ran = offerctl_here("reconcile", "--repo", str(repo), *FAST)

        assert ran.code in (0, 1), ran.err  # the odd folder is Invalid: a status says so
        assert RLO not in ran.out + ran.err
        assert "invoice\\u202efdp.exe" in ran.out + ran.err
        message = git(repo, "log", "-1", "--format=%B")
        assert message.startswith("status:")
        assert RLO not in message
        assert "invoice\\u202efdp.exe" in message

    def test_status_table_escapes_a_terminal_escape_in_a_folder_name(
        self, gitrepos: GitRepos
    ) -> None:
        name = "x\x1b]0;pwned\x07y"
        repo = offers_repo(gitrepos, [GOOD])
        add_raw_folder(repo, os.fsencode(name), "Add a folder whose name retitles terminals")

        ran = offerctl_here("status", "--repo", str(repo))

        assert "\x1b" not in ran.out + ran.err
        assert "x\\u001b]0;pwned" in ran.out  # (rich drops the BEL itself)

    def test_an_error_naming_the_offer_is_escaped(self, gitrepos: GitRepos) -> None:
        repo = offers_repo(gitrepos, [GOOD])

        ran = offerctl_here("history", f"ghost{RLO}x", "--repo", str(repo))

        assert RLO not in ran.out + ran.err


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain-id", "plain-id"),
        ("a\u202eb", "a\\u202eb"),
        ("a\u2066b\u2069", "a\\u2066b\\u2069"),
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("bell\x07", "bell\\x07"),
        ("esc\x1b[2J", "esc\\x1b[2J"),
        ("c1\x9b", "c1\\x9b"),
        ("line\nbreak", "line\\nbreak"),
        ("not-utf8-\udcff", "not-utf8-\\xff"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("émoji ✓ 日本", "émoji ✓ 日本"),
    ],
)
def test_printable_escapes_exactly_the_unsafe_characters(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_terminal_safe_keeps_colour_and_newlines_but_not_other_sequences() -> None:
    assert terminal_safe("\x1b[1;31mred\x1b[0m\n") == "\x1b[1;31mred\x1b[0m\n"
    assert terminal_safe("\x1b]8;;http://x\x1b\\") == "\\u001b]8;;http://x\\u001b\\"


@pytest.mark.parametrize("value", ["a\u202eb", "c1\x85", "tag\U000e0041", "zw\u200b", "ok"])
def test_json_output_through_the_escaping_stream_stays_valid_and_equal(value: str) -> None:
    text = json.dumps({"offer": value}, ensure_ascii=False)

    assert json.loads(terminal_safe(text)) == {"offer": value}


def test_status_json_with_a_bidi_folder_name_parses_back_to_the_name(
    gitrepos: GitRepos,
) -> None:
    name = f"invoice{RLO}fdp.exe"
    repo = offers_repo(gitrepos, [GOOD, name])

    ran = offerctl_here("status", "--repo", str(repo), "-o", "json")

    assert ran.code == 0, ran.err
    assert RLO not in ran.out
    assert name in json.dumps(json.loads(ran.out), ensure_ascii=False)


def test_on_a_terminal_the_stream_passes_rich_redraws_but_not_titles_or_bidi() -> None:
    import pty

    primary, secondary = pty.openpty()
    try:
        with os.fdopen(secondary, "w", encoding="utf-8", closefd=False) as tty:
            stream = EscapingStream(tty)
            stream.write("\r\x1b[2K\x1b[1A\x1b[?25lrow\x1b]0;title\x07 a\u202eb\n")
            stream.flush()
        shown = os.read(primary, 4096).decode()
    finally:
        os.close(primary)
        os.close(secondary)

    assert "\x1b[2K\x1b[1A\x1b[?25lrow" in shown
    assert "\\u001b]0;title\\u0007" in shown
    assert "\u202e" not in shown and "a\\u202eb" in shown
