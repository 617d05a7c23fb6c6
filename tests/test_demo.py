"""`offerctl demo` (issue #6, item 6) as a user runs it: a real process, a real daemon, real git.

The demo runs at a time scale of 200,000 (a week of certification in 3 s)
so the whole pipeline, sign-off included, ends in seconds; the waits are
bounded by the demo's own --timeout and by the subprocess timeout here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from controller.core.model import OfferStatus, Phase, Stage, StageState, StageStatus
from controller.demo.common import APPROVER, PUBLISHER
from controller.demo.phases import (
    awaiting_signoff,
    page_url,
    phase_lines,
    settled,
)

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = {
    "contoso-field-insights": "Live",
    "fabrikam-case-triage": "Preview",
    "northwind-loyalty-hub": "Draft",
    "tailspin-quote-builder": "Rejected",
}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "--git-dir", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.fixture(scope="module")
def demo_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    workdir = tmp_path_factory.mktemp("demo") / "scratch"
    done = subprocess.run(
        [sys.executable, "-m", "controller", "demo", "--workdir", str(workdir),
         "--time-scale", "200000", "--timeout", "45"],
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=55,
        check=False,
    )  # fmt: skip
    return done, workdir


@pytest.mark.slow(budget=120)
class TestTheDemo:
    """One demo run, looked at from its output and from the repository it leaves behind."""

    def test_it_exits_zero_after_a_clean_sigterm(
        self, demo_run: tuple[subprocess.CompletedProcess[str], Path]
    ) -> None:
        done, _ = demo_run
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Stopped the daemon with SIGTERM (exit 0)" in done.stdout

    def test_every_shipped_offer_ends_where_its_target_and_package_take_it(
        self, demo_run: tuple[subprocess.CompletedProcess[str], Path]
    ) -> None:
        _, workdir = demo_run
        origin = workdir / "origin.git"
        for offer, phase in EXPECTED.items():
            status = yaml.safe_load(git(origin, "show", f"main:offers/{offer}/status.yaml"))
            assert status["phase"] == phase, offer

    def test_the_final_table_shows_each_offer_once_with_its_phase(
        self, demo_run: tuple[subprocess.CompletedProcess[str], Path]
    ) -> None:
        done, _ = demo_run
        table = done.stdout[done.stdout.index("OFFER ") :]
        for offer, phase in EXPECTED.items():
            rows = [line for line in table.splitlines() if line.startswith(offer + " ")]
            assert len(rows) == 1 and f" {phase} " in rows[0], rows

    def test_progress_is_printed_as_each_stage_passes(
        self, demo_run: tuple[subprocess.CompletedProcess[str], Path]
    ) -> None:
        done, _ = demo_run
        contoso = [
            line
            for line in done.stdout.splitlines()
            if line.startswith("[") and "contoso-field-insights  " in line
        ]
        changes = [line.split("contoso-field-insights")[1].split()[-3] for line in contoso]
        assert changes[-1] == "Live"
        assert changes.index("AwaitingSignOff") < changes.index("Live")

    def test_go_live_came_from_a_merge_approved_by_someone_other_than_its_author(
        self, demo_run: tuple[subprocess.CompletedProcess[str], Path]
    ) -> None:
        _, workdir = demo_run
        origin = workdir / "origin.git"
        path = "offers/contoso-field-insights/signoff.yaml"
        log = git(origin, "log", "--first-parent", "--format=%H %P", "main", "--", path)
        merge, *parents = log.split("\n")[0].split()
        assert len(parents) == 2  # a --no-ff merge, as a review platform makes
        assert git(origin, "log", "-1", "--format=%an <%ae>", merge).strip() == (
            f"{APPROVER[0]} <{APPROVER[1]}>"
        )
        trailers = git(origin, "log", "-1", "--format=%(trailers:key=Approved-by)", merge)
        assert APPROVER[1] in trailers
        author = git(origin, "log", "-1", "--format=%ae", parents[1]).strip()
        assert author == PUBLISHER[1]
        status = yaml.safe_load(
            git(origin, "show", "main:offers/contoso-field-insights/status.yaml")
        )
        assert status["signOff"]["valid"] is True
        assert APPROVER[1] in str(status["signOff"]["approvers"])
        # Verified, not typed: the approver's own key signed the merge.
        assert status["signOff"]["trust"] == "signed"
        assert git(origin, "cat-file", "commit", merge).count("gpgsig") == 1

    def test_the_scratch_directory_stays_when_named(
        self, demo_run: tuple[subprocess.CompletedProcess[str], Path]
    ) -> None:
        _, workdir = demo_run
        assert (workdir / "publisher" / "publishing.yaml").is_file()
        assert not (workdir / "controller" / ".git" / "index.lock").exists()


def status(phase: Phase, generation: str = "sha256:" + "a" * 64) -> OfferStatus:
    stages = tuple(StageStatus(s, StageState.SUCCEEDED) for s in (Stage.VALIDATION,))
    return OfferStatus("o", phase, observed_generation=generation, stages=stages)


class TestDecisions:
    """The demo's pure decisions: what to print, when to sign off, when to stop."""

    def test_only_phase_changes_are_printed(self) -> None:
        before = {"a": status(Phase.CERTIFYING), "b": status(Phase.CERTIFYING)}
        after = {
            "a": status(Phase.CERTIFYING),
            "b": status(Phase.PACKAGING),
            "c": status(Phase.DRAFT),
        }
        lines = phase_lines(before, after, unicode=False)
        assert [offer for offer, _ in lines] == ["b", "c"]
        assert lines[0][1].startswith("Certifying -> Packaging")
        assert lines[1][1].startswith("New -> Draft")

    def test_an_offer_awaiting_sign_off_is_not_settled(self) -> None:
        statuses = {"a": status(Phase.AWAITING_SIGNOFF), "b": status(Phase.LIVE)}
        assert not settled(statuses)
        assert awaiting_signoff(statuses) == [("a", "sha256:" + "a" * 64)]

    def test_offers_without_status_are_not_settled(self) -> None:
        assert not settled({"a": status(Phase.LIVE), "b": None})
        assert not settled({})

    def test_rejected_draft_preview_and_live_are_settled(self) -> None:
        phases = (Phase.REJECTED, Phase.DRAFT, Phase.PREVIEW, Phase.LIVE)
        assert settled({p.value: status(p) for p in phases})

    def test_the_timeline_page_is_found_from_the_daemons_log_line(self) -> None:
        log = "06:02:15 info    daemon started\n06:02:16 info    listening on 127.0.0.1:36435\n"
        assert page_url(log) == "http://127.0.0.1:36435/"
        assert page_url("06:02:16 info    listening on ::1:9464\n") == "http://[::1]:9464/"
        assert page_url("06:02:15 info    offerctl daemon started\n") is None
