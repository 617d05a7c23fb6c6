"""`offerctl status` on real repositories whose status files come from status.py's serializer."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from cli_helpers import CERT_FINDING, GEN_A, env, make_status, offerctl, status_bytes, utcnow
from git_helpers import GitRepos

from controller.commands.status import _View, watch
from controller.core.model import Phase, SignOffVerdict, Target
from controller.git.repo import GitRepo
from controller.present.console import make_console
from controller.repo import status

MANIFEST = "apiVersion: offers.marketplace/v1\nkind: Offer\n"


@pytest.fixture
def repo(gitrepos: GitRepos) -> Path:
    now = utcnow()
    verdict = SignOffVerdict(
        valid=False,
        generation=GEN_A,
        reason="NotApproved",
        message="no approval by an authorized approver",
    )
    statuses = {
        "alpha": make_status("alpha", Phase.CERTIFYING, now=now, estimated_live="2026-12-07"),
        "bravo": make_status(
            "bravo", Phase.AWAITING_SIGNOFF, now=now, signoff=verdict, in_phase=timedelta(hours=4)
        ),
        "charlie": make_status("charlie", Phase.REJECTED, now=now, feedback=[CERT_FINDING]),
        "delta": make_status("delta", Phase.PREVIEW, now=now, target=Target.PREVIEW),
    }
    files: dict[str, str | bytes | None] = {
        f"offers/{offer}/status.yaml": status_bytes(value) for offer, value in statuses.items()
    }
    for offer in [*statuses, "echo"]:
        files[f"offers/{offer}/offer.yaml"] = MANIFEST
    return gitrepos.init("offers-repo", files)


def test_table_lists_every_offer_with_progress_time_in_phase_eta_and_ready(repo: Path) -> None:
    ran = offerctl("status", "--repo", str(repo))
    assert ran.code == 0, ran.err
    lines = ran.out.splitlines()
    assert lines[0].split() == ["OFFER", "TARGET", "PHASE", "STAGES", "IN", "PHASE", "ETA", "READY"]
    assert lines[1].split() == [
        "alpha",
        "live",
        "Certifying",
        "●◐○○○○",
        "1/6",
        "2d",
        "3h",
        "2026-12-07",
        "False",
    ]
    assert lines[2].split() == [
        "bravo",
        "live",
        "AwaitingSignOff",
        "●●●◐○○",
        "3/6",
        "4h",
        "10m",
        "-",
        "False",
    ]
    assert lines[3].split() == [
        "charlie",
        "live",
        "Rejected",
        "●✗○○○○",
        "1/6",
        "2d",
        "3h",
        "-",
        "False",
    ]
    assert lines[4].split() == [
        "delta",
        "preview",
        "Preview",
        "●●●···",
        "3/3",
        "2d",
        "3h",
        "-",
        "True",
    ]
    assert lines[5].split() == ["echo", "-", "(not", "reconciled)", "-", "-", "-", "-"]
    assert lines[-1].startswith("5 offers at ")
    assert "1 ready, 1 need a fix, 1 awaiting sign-off, 1 without status" in lines[-1]


def test_piped_output_is_plain_and_unwrapped_even_when_colour_is_not_refused(repo: Path) -> None:
    with env(NO_COLOR=None, COLUMNS="40"):
        ran = offerctl("status", "--repo", str(repo))
    assert "\x1b[" not in ran.out
    assert all(line == line.rstrip() for line in ran.out.splitlines())
    assert any(len(line) > 40 for line in ran.out.splitlines())  # one row per line, not wrapped


def test_color_always_styles_piped_output_and_no_color_wins_over_it(repo: Path) -> None:
    assert "\x1b[" in offerctl("status", "--repo", str(repo), "--color", "always").out
    ran = offerctl("status", "--repo", str(repo), "--color", "always", "--no-color")
    assert "\x1b[" not in ran.out


def test_json_output_round_trips_through_the_status_reader(repo: Path) -> None:
    ran = offerctl("status", "--repo", str(repo), "-o", "json")
    assert ran.code == 0, ran.err
    listing = json.loads(ran.out)
    assert listing["kind"] == "OfferStatusList"
    assert [item["offer"] for item in listing["items"]] == ["alpha", "bravo", "charlie", "delta"]
    assert listing["withoutStatus"] == [{"offer": "echo", "problem": "not reconciled yet"}]
    committed = status.parse((repo / "offers/charlie/status.yaml").read_bytes())
    assert status.from_dict(listing["items"][2]) == committed


def test_one_offer_as_json_or_yaml_is_exactly_its_status(repo: Path) -> None:
    committed = status.parse((repo / "offers/bravo/status.yaml").read_bytes())
    as_json = json.loads(offerctl("status", "bravo", "--repo", str(repo), "-o", "json").out)
    as_yaml = yaml.safe_load(offerctl("status", "bravo", "--repo", str(repo), "-o", "yaml").out)
    assert status.from_dict(as_json) == committed
    assert as_yaml == as_json


def test_detail_view_shows_feedback_with_its_manifest_path_and_the_history(repo: Path) -> None:
    ran = offerctl("status", "charlie", "--repo", str(repo))
    assert ran.code == 0, ran.err
    out = ran.out
    assert "Phase:            Rejected for 2d 3h" in out
    for section in ("Stages", "Conditions", "Feedback (1)", "Sign-off", "History (last 1;"):
        assert f"\n{section}" in out
    feedback = next(line for line in out.splitlines() if line.startswith("error"))
    assert feedback.split(None, 4) == [
        "error",
        "InsecureLink",
        "Certification",
        "$.spec.listings.en-us.usefulLinks[0].url",
        "usefulLinks[0] is not HTTPS",
    ]
    assert "Certification  Failed" in out
    assert "Publisher sign-off (Go live)" in out  # the Partner Center name of each stage


def test_detail_view_says_why_a_signoff_does_not_count(repo: Path) -> None:
    out = offerctl("status", "bravo", "--repo", str(repo)).out
    assert "Counts:      no" in out
    assert "Reason:      NotApproved: no approval by an authorized approver" in out


def test_status_reads_the_commit_not_the_working_tree(repo: Path, gitrepos: GitRepos) -> None:
    gitrepos.write(repo, {"offers/alpha/status.yaml": "offer: alpha\nphase: Live\n"})
    out = offerctl("status", "alpha", "--repo", str(repo), "-o", "json").out
    assert json.loads(out)["phase"] == "Certifying"
    first = gitrepos.head(repo)
    gitrepos.commit(repo, {"offers/alpha/status.yaml": "offer: alpha\nphase: Live\n"})
    assert (
        json.loads(offerctl("status", "alpha", "--repo", str(repo), "-o", "json").out)["phase"]
        == "Live"
    )
    older = offerctl("status", "alpha", "--repo", str(repo), "--rev", first, "-o", "json").out
    assert json.loads(older)["phase"] == "Certifying"


def test_broken_status_file_is_shown_as_unreadable_not_a_crash(
    repo: Path, gitrepos: GitRepos
) -> None:
    gitrepos.commit(repo, {"offers/delta/status.yaml": "phase: [unterminated\n"})
    ran = offerctl("status", "--repo", str(repo))
    assert ran.code == 0
    row = next(line for line in ran.out.splitlines() if line.startswith("delta"))
    assert row.split() == ["delta", "-", "(unreadable", "status)", "-", "-", "-", "-"]
    one = offerctl("status", "delta", "--repo", str(repo))
    assert one.code == 1
    assert "not a readable status" in one.err


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["status", "echo"], 1, "has not been reconciled yet"),
        (["status", "zulu"], 1, "no offer zulu"),
        (["status", "Not_An_Id"], 2, "is not an offer id"),
        (["status", "--rev", "no-such-branch"], 1, "no commit 'no-such-branch'"),
        (["status", "--rev", "a..b"], 2, "invalid revision"),
        (["status", "--interval", "0", "--watch"], 2, "--interval must be greater than 0"),
        (["status", "-o", "xml"], 2, ""),
    ],
)
def test_exit_codes(repo: Path, argv: list[str], code: int, message: str) -> None:
    ran = offerctl(*argv, "--repo", str(repo))
    assert ran.code == code
    assert message in ran.err


def test_not_a_repository_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    ran = offerctl("status", "--repo", str(tmp_path))
    assert ran.code == 1
    assert "not a git repository" in ran.err


def test_watch_piped_prints_a_view_only_when_it_changed(repo: Path, gitrepos: GitRepos) -> None:
    out = io.StringIO()
    console = make_console("never", file=out)
    commits = iter([{"offers/alpha/status.yaml": "offer: alpha\nphase: Live\n"}, None])

    def between(_: float) -> None:
        change = next(commits)
        if change:
            gitrepos.commit(repo, change)

    with GitRepo(repo) as opened:
        view = _View(opened, "HEAD", "alpha", "json", True, stream=True)
        watch(view.render, console, interval=0.01, data_output=True, sleep=between, refreshes=3)
    lines = out.getvalue().splitlines()
    assert [json.loads(line)["phase"] for line in lines] == ["Certifying", "Live"]


def test_watch_on_a_terminal_redraws_in_place(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich treats the StringIO as a terminal
    out = io.StringIO()
    console = make_console("auto", file=out, env={})
    assert console.is_terminal
    with GitRepo(repo) as opened:
        view = _View(opened, "HEAD", None, "table", True)
        watch(view.render, console, interval=0.01, sleep=lambda _: None, refreshes=2)
    text = out.getvalue()
    assert text.count("alpha") >= 2
    assert "\x1b[2K" in text or "\x1b[1A" in text  # cursor moved back to redraw, not appended
