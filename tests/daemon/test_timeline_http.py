"""`/` on the daemon's listen address: the real Daemon, its HTTP server, real git.

The reconcile pass is a `RecordingReconcile` that reports the commit a test
chose as the branch tip; `TimelinePage` reads the committed statuses there
from a real repository, as `offerctl run` wires it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from daemon_helpers import RecordingReconcile, running, wait_until
from git_helpers import GitRepos
from timeline_helpers import commit_offers, fetch, sample_statuses

from controller.core.model import Phase
from controller.daemon.loop import Daemon, DaemonConfig, PassReport
from controller.daemon.timeline import REUSE_SECONDS, WAITING, TimelinePage
from controller.daemon.workqueue import ALL
from controller.present.page import CSP
from controller.repo import status
from controller.repo.statusread import MAX_STATUS_BYTES

NOW = datetime.now(UTC)


class Served:
    """A running daemon serving the timeline of `repo`; `tip` is what its next pass reports."""

    def __init__(self, daemon: Daemon, reconcile: RecordingReconcile, page: TimelinePage) -> None:
        self.daemon = daemon
        self.reconcile = reconcile
        self.page = page
        address = daemon.http_address
        assert address is not None
        self.url = f"http://127.0.0.1:{address[1]}/"

    def get(self, path: str = "") -> tuple[int, dict[str, str], str]:
        code, headers, body = fetch(self.url + path)[0]
        return code, headers, body.decode()

    def move_to(self, commit: str, tip: dict[str, str]) -> None:
        """Run one more pass that reports `commit`, and wait until the page shows it."""
        tip["head"] = commit
        done = len(self.reconcile.snapshot())
        self.daemon.enqueue((ALL,), "test")
        self.reconcile.wait_for(done + 1)
        wait_until(lambda: f'data-commit="{commit}"' in self.get()[2], what="the new commit")


@contextmanager
def serve(repo: Path, tip: dict[str, str], *, fail_first: bool = False) -> Iterator[Served]:
    def script(_offers: frozenset[str] | None, n: int) -> PassReport:
        return PassReport(ok=not (fail_first and n == 0), head=tip.get("head", ""))

    reconcile = RecordingReconcile(script)
    with TimelinePage(repo) as page:
        daemon = Daemon(
            reconcile,
            config=DaemonConfig(heartbeat=0.2),
            listen=("127.0.0.1", 0),
            page=page.render,
        )
        with running(daemon):
            reconcile.wait_for(1)
            yield Served(daemon, reconcile, page)


@pytest.fixture
def offers_repo(gitrepos: GitRepos) -> tuple[GitRepos, Path, str]:
    repo = gitrepos.init("offers")
    commit = commit_offers(gitrepos, repo, sample_statuses(NOW))
    return gitrepos, repo, commit


Repo = tuple[GitRepos, Path, str]


def test_the_page_shows_every_offer_at_the_tip_the_last_pass_left(offers_repo: Repo) -> None:
    _, repo, commit = offers_repo
    tip = {"head": commit}
    with serve(repo, tip) as served:
        wait_until(lambda: "alpha-certifying" in served.get()[2], what="the page")
        code, headers, body = served.get()
    assert code == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["content-security-policy"] == CSP
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"
    assert f'data-commit="{commit}"' in body
    for offer in sample_statuses(NOW):
        assert f'<a href="#offer-{offer}">{offer}</a>' in body
    assert "<td>2026-12-14</td>" in body  # alpha's ETA


def test_a_commit_is_read_once_and_a_new_one_reparses_only_what_changed(
    offers_repo: Repo,
) -> None:
    gitrepos, repo, first = offers_repo
    tip = {"head": first}
    with serve(repo, tip) as served:
        for _ in range(3):
            assert "alpha-certifying" in served.get()[2]
        assert (served.page.reads, served.page.parses) == (1, 4)
        moved = sample_statuses(NOW)["alpha-certifying"]
        second = commit_offers(
            gitrepos, repo, {"alpha-certifying": replace(moved, phase=Phase.PACKAGING)}
        )
        served.move_to(second, tip)
        body = served.get()[2]
        assert (served.page.reads, served.page.parses) == (2, 5)
    assert '<span class="phase busy">Packaging</span>' in body


def test_head_answers_as_get_does_without_a_body_on_a_kept_alive_connection(
    offers_repo: Repo,
) -> None:
    _, repo, commit = offers_repo
    with serve(repo, {"head": commit}) as served:
        (head_code, head_headers, head_body), (get_code, _, get_body) = fetch(
            served.url, "HEAD", then="GET"
        )
    assert (head_code, get_code) == (200, 200)
    assert head_body == b""
    assert head_headers["content-security-policy"] == CSP
    assert int(head_headers["content-length"]) > 1000
    assert b"alpha-certifying" in get_body  # the GET after it still gets its body


@pytest.mark.parametrize(("method", "code"), [("POST", 405), ("PUT", 501), ("DELETE", 501)])
def test_the_page_takes_no_write(offers_repo: Repo, method: str, code: int) -> None:
    _, repo, commit = offers_repo
    with serve(repo, {"head": commit}) as served:
        answer, headers, _ = fetch(served.url, method)[0]
    assert answer == code
    if code == 405:
        assert headers["allow"] == "GET, HEAD"


def test_before_a_successful_pass_the_page_says_it_waits(offers_repo: Repo) -> None:
    _, repo, commit = offers_repo
    with serve(repo, {"head": commit}, fail_first=True) as served:
        code, headers, body = served.get()
        assert served.page.reads == 0
    assert code == 200
    assert headers["content-security-policy"] == CSP
    assert WAITING in body


def test_broken_status_files_are_rows_that_say_so(offers_repo: Repo) -> None:
    gitrepos, repo, _ = offers_repo
    commit = commit_offers(
        gitrepos,
        repo,
        {
            "echo-garbage": "{{{ this is not yaml",
            "foxtrot-huge": "offer: foxtrot-huge\n#" + "x" * MAX_STATUS_BYTES,
            "golf-new": None,
        },
    )
    (repo / "offers/hotel-link").mkdir()
    (repo / "offers/hotel-link/status.yaml").symlink_to("../alpha-certifying/status.yaml")
    (repo / "offers/hotel-link/offer.yaml").write_text("kind: Offer\n")
    gitrepos.run(repo, "add", "-A")
    gitrepos.run(repo, "commit", "-q", "-m", "A symlinked status")
    commit = gitrepos.head(repo)
    with serve(repo, {"head": commit}) as served:
        code, _, body = served.get()
    assert code == 200
    assert body.count("(unreadable status)") == 3  # garbage, huge and the symlink
    assert "(not reconciled yet)" in body  # golf has no status yet
    assert "offers/foxtrot-huge/status.yaml is 1,048,597 bytes" in body
    assert "alpha-certifying" in body  # the others are shown as ever


def test_a_page_that_cannot_be_read_is_a_503_and_the_daemon_goes_on(
    offers_repo: Repo, caplog: pytest.LogCaptureFixture
) -> None:
    _, repo, _ = offers_repo
    missing = "0123456789abcdef" * 2 + "01234567"
    with serve(repo, {"head": missing}) as served:
        code, _, body = served.get()
        assert fetch(served.url + "healthz")[0][0] == 200
    assert code == 503
    assert body == "timeline unavailable; see the daemon log\n"
    assert str(repo) not in body
    assert "timeline page failed" in caplog.text


def test_without_a_page_the_root_is_not_found() -> None:
    reconcile = RecordingReconcile()
    daemon = Daemon(reconcile, config=DaemonConfig(heartbeat=0.2), listen=("127.0.0.1", 0))
    with running(daemon):
        reconcile.wait_for(1)
        address = daemon.http_address
        assert address is not None
        assert fetch(f"http://127.0.0.1:{address[1]}/")[0][0] == 404


def test_a_shard_shows_only_its_own_offers(offers_repo: Repo) -> None:
    _, repo, commit = offers_repo
    mine: Callable[[str], bool] = lambda offer: offer.startswith(("alpha", "delta"))  # noqa: E731
    with TimelinePage(repo, include=mine) as page:
        assert [e.offer for e in page.entries(commit)] == ["alpha-certifying", "delta-live"]


def test_the_entries_are_what_the_committed_files_say(offers_repo: Repo) -> None:
    gitrepos, repo, commit = offers_repo
    with TimelinePage(repo) as page:
        entries = {e.offer: e.status for e in page.entries(commit)}
    for offer, expected in sample_statuses(NOW).items():
        written = gitrepos.show(repo, commit, f"offers/{offer}/status.yaml")
        assert entries[offer] == status.parse(written.encode())
        assert entries[offer] is not None
        assert entries[offer].phase is expected.phase  # type: ignore[union-attr]


def test_one_rendering_answers_every_request_for_a_few_seconds(offers_repo: Repo) -> None:
    gitrepos, repo, first = offers_repo
    clock = [NOW]
    with TimelinePage(repo, clock=lambda: clock[0]) as page:
        html = page.render(first)
        clock[0] = NOW + timedelta(seconds=REUSE_SECONDS - 1)
        assert page.render(first) is html
        assert page.renders == 1
        clock[0] = NOW + timedelta(seconds=REUSE_SECONDS)
        assert "as of" in page.render(first)
        assert page.renders == 2  # stale after REUSE_SECONDS: the ages on it moved on
        second = commit_offers(gitrepos, repo, {"zulu-new": None})
        assert f'data-commit="{second}"' in page.render(second)
        assert (page.renders, page.reads, page.parses) == (3, 2, 4)
        clock[0] = NOW - timedelta(hours=1)  # a clock set back does not serve the future's page
        page.render(second)
        assert page.renders == 4
