"""Reconcile passes against real git repositories and the simulated marketplace.

Each test builds a repository (or a bare remote and clones) in a tmp dir with
offers copied from the shipped examples, runs passes with a controllable
clock, and checks the commits, the status files and the marketplace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from example_offers import offer_files
from git_helpers import GitRepos, git
from market_helpers import Clock, Interposed

from controller.cli import main
from controller.core.errors import TransientError
from controller.git import checkout
from controller.git.repo import GitRepo
from controller.marketplace.api import Submission
from controller.marketplace.simulated import SimulatedMarketplace
from controller.reconcile.reconciler import (
    PassResult,
    Reconciler,
    Watch,
    commit_message,
    default_validate,
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def market(tmp_path: Path, clock: Clock) -> Interposed:
    return Interposed(SimulatedMarketplace(tmp_path / "market.db", time_scale=1.0, clock=clock))


class Harness:
    """Runs passes over one repository the way `offerctl reconcile` does."""

    def __init__(self, repo: Path, market: Interposed, clock: Clock, watch: Watch) -> None:
        self.path = repo
        self.market = market
        self.clock = clock
        self.watch = watch
        self.sleeps: list[float] = []

    def run(self, *, full: bool = False) -> PassResult:
        with GitRepo(self.path) as repo:
            reconciler = Reconciler(
                repo,
                self.market,
                validate=default_validate,
                watch=self.watch,
                clock=self.clock,
                sleep=self.sleeps.append,
            )
            return reconciler.run_pass(full=full)

    def status(self, offer: str, rev: str = "HEAD") -> dict[str, Any]:
        text = git(self.path, "show", f"{rev}:offers/{offer}/status.yaml")
        data: dict[str, Any] = yaml.safe_load(text)
        return data


@pytest.fixture
def local(gitrepos: GitRepos, market: Interposed, clock: Clock) -> Iterator[Harness]:
    files = {**offer_files("alpha-offer"), **offer_files("beta-offer", "draft")}
    repo = gitrepos.init("work", files)
    yield Harness(repo, market, clock, Watch())


def log_subjects(repo: Path, rev: str = "HEAD") -> list[str]:
    return git(repo, "log", "--format=%s", rev).splitlines()


class TestLocalPass:
    """Without --remote: read HEAD of the checked-out branch, commit onto it."""

    def test_first_pass_commits_every_status_as_the_controller(
        self, local: Harness, gitrepos: GitRepos
    ) -> None:
        before = gitrepos.head(local.path)
        result = local.run()
        assert result.full and result.commit == gitrepos.head(local.path)
        assert set(result.written) == {"alpha-offer", "beta-offer"}
        author = git(local.path, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%P").strip()
        assert author == f"offerctl <offerctl@localhost>|offerctl <offerctl@localhost>|{before}"
        subject = log_subjects(local.path)[0]
        assert subject.startswith("status: alpha-offer New\u2192") and "(+1 more)" in subject
        changed = git(local.path, "diff-tree", "-r", "--name-only", "--no-commit-id", "HEAD")
        assert sorted(changed.split()) == [
            "offers/alpha-offer/status.yaml",
            "offers/beta-offer/status.yaml",
        ]
        assert local.status("beta-offer")["phase"] == "Draft"
        assert local.status("alpha-offer")["phase"] in {"Validating", "Certifying"}
        assert gitrepos.status(local.path) == ""  # the checkout followed its branch

    def test_a_pass_with_nothing_new_makes_no_commit(
        self, local: Harness, gitrepos: GitRepos
    ) -> None:
        local.run()
        head = gitrepos.head(local.path)
        again = local.run()
        assert again.commit is None and again.written == ()
        assert gitrepos.head(local.path) == head

    def test_a_pass_reads_an_in_flight_submission_once(
        self, local: Harness, market: Interposed, clock: Clock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        local.run()
        reads: list[str] = []
        find, get = market.find, market.get

        def counted_find(key: str) -> Submission | None:
            found = find(key)
            reads.extend([found.id] if found is not None else [])
            return found

        def counted_get(submission_id: str) -> Submission:
            reads.append(submission_id)
            return get(submission_id)

        monkeypatch.setattr(market, "find", counted_find)
        monkeypatch.setattr(market, "get", counted_get)
        clock.advance(minutes=1)
        result = local.run()
        assert result.in_flight == ("alpha-offer",)
        # Found by its key and named by the last status: one read, not one per name.
        assert len(reads) == 1, reads

    def test_progress_in_the_marketplace_is_committed_later(
        self, local: Harness, clock: Clock
    ) -> None:
        local.run()
        clock.advance(days=10)
        result = local.run()
        assert result.commit is not None
        assert local.status("alpha-offer")["phase"] == "Preview"
        assert local.status("alpha-offer")["previewUrl"].startswith("https://")

    def test_uncommitted_edits_are_neither_read_nor_committed(
        self, local: Harness, gitrepos: GitRepos
    ) -> None:
        manifest = local.path / "offers/alpha-offer/offer.yaml"
        manifest.write_text("not: yaml: at: all\n")
        (local.path / "offers/beta-offer/notes.txt").write_text("scratch\n")
        result = local.run()
        assert "alpha-offer" not in {o for o, _ in result.errors.items()}
        assert local.status("alpha-offer")["phase"] != "Invalid"  # the commit was read
        assert manifest.read_text() == "not: yaml: at: all\n"
        porcelain = gitrepos.status(local.path)
        assert " M offers/alpha-offer/offer.yaml" in porcelain
        assert "?? offers/beta-offer/notes.txt" in porcelain
        tree = git(local.path, "ls-tree", "-r", "--name-only", "HEAD")
        assert "offers/beta-offer/notes.txt" not in tree

    def test_invalid_offers_are_isolated_with_file_and_line(
        self, local: Harness, gitrepos: GitRepos
    ) -> None:
        gitrepos.commit(
            local.path,
            {
                "offers/broken-offer/offer.yaml": "apiVersion: offers.marketplace/v1\nkind: Offer\n"
                "metadata:\n  name: broken-offer\nspec:\n  target: live\n  bogus: [\n",
            },
        )
        local.run()
        broken = local.status("broken-offer")
        assert broken["phase"] == "Invalid"
        finding = broken["feedback"][0]
        assert finding["file"] == "offers/broken-offer/offer.yaml"
        assert finding["line"] >= 1 and finding["message"]
        assert local.status("alpha-offer")["phase"] in {"Validating", "Certifying"}
        assert "broken-offer" not in local.market.submits

    def test_a_marketplace_error_for_one_offer_spares_the_others(
        self, local: Harness, gitrepos: GitRepos
    ) -> None:
        gitrepos.commit(local.path, offer_files("gamma-offer"))
        local.market.down.add("alpha-offer")
        result = local.run()
        assert set(result.errors) == {"alpha-offer"}
        alpha = local.status("alpha-offer")
        error = [c for c in alpha["conditions"] if c["type"] == "MarketplaceError"]
        assert error and error[0]["status"] == "True"
        assert local.status("gamma-offer")["phase"] in {"Validating", "Certifying"}
        head = gitrepos.head(local.path)
        assert local.run().commit is None  # the same error again: no new commit
        assert gitrepos.head(local.path) == head
        local.market.down.clear()
        local.run()
        healed = local.status("alpha-offer")
        assert not [c for c in healed["conditions"] if c["type"] == "MarketplaceError"]

    def test_suspended_offers_are_observed_not_submitted(
        self, local: Harness, gitrepos: GitRepos
    ) -> None:
        gitrepos.commit(local.path, offer_files("quiet-offer", "live", suspend=True))
        local.run()
        assert local.status("quiet-offer")["phase"] == "Suspended"
        assert "quiet-offer" not in local.market.submits

    def test_a_deleted_manifest_orphans_the_offer_without_withdrawing(
        self, local: Harness, gitrepos: GitRepos, clock: Clock
    ) -> None:
        local.run()
        gitrepos.commit(
            local.path,
            {
                "offers/alpha-offer/offer.yaml": None,
                "offers/beta-offer/offer.yaml": None,
            },
        )
        clock.advance(minutes=1)
        local.run()
        assert local.status("alpha-offer")["phase"] == "Orphaned"
        # beta was a draft: nothing in the marketplace, so its status goes too.
        tree = git(local.path, "ls-tree", "-r", "--name-only", "HEAD")
        assert "offers/beta-offer/status.yaml" not in tree
        assert not local.market.inner.listing("alpha-offer").withdrawing

    def test_a_hand_edited_status_is_regenerated(self, local: Harness, gitrepos: GitRepos) -> None:
        local.run()
        good = local.status("beta-offer")
        gitrepos.commit(local.path, {"offers/beta-offer/status.yaml": "phase: Live\n"})
        result = local.run()
        assert result.written == ("beta-offer",)
        regenerated = local.status("beta-offer")
        # The hand edit lost the record of when this spec was first read: it is re-read now.
        regenerated.pop("observedCommit"), good.pop("observedCommit")
        assert regenerated == good

    def test_a_commit_made_during_the_pass_is_kept(
        self, local: Harness, gitrepos: GitRepos
    ) -> None:
        def person_commits() -> None:
            gitrepos.commit(local.path, {"offers/beta-offer/README.md": "notes\n"}, "person")

        local.market.before_listing = person_commits
        result = local.run()
        assert result.attempts == 2
        assert not local.sleeps  # a local branch moved once: a person's commit, no backoff
        subjects = log_subjects(local.path)
        assert subjects[0].startswith("status:") and subjects[1] == "person"
        assert (local.path / "offers/beta-offer/README.md").exists()

    def test_an_index_a_person_s_git_kept_locked_is_synced_by_the_next_pass(
        self, local: Harness, gitrepos: GitRepos, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # A person's git holds index.lock through the whole sync (git's own `apply` of the
        # files, then the refresh after writing them): the files are written, the index
        # keeps the old ones, and the pass records its commit anyway.
        monkeypatch.setattr(checkout, "INDEX_LOCK_WAITS", (0.01,))
        lock = local.path / ".git" / "index.lock"
        unheld = {name: getattr(checkout, name) for name in ("apply_patch", "apply_sync")}

        def holding(name: str) -> Callable[..., Any]:
            def held(*args: Any, **kwargs: Any) -> Any:
                lock.write_bytes(b"")
                try:
                    return unheld[name](*args, **kwargs)
                finally:
                    lock.unlink()

            return held

        for name in unheld:
            monkeypatch.setattr(checkout, name, holding(name))
        first = local.run()
        assert first.commit == gitrepos.head(local.path)
        assert "D  offers/alpha-offer/status.yaml" in gitrepos.status(local.path)
        assert (local.path / "offers/alpha-offer/status.yaml").exists()
        for name, function in unheld.items():
            monkeypatch.setattr(checkout, name, function)

        second = local.run()  # another process, at the tip the first one recorded

        assert second.commit is None and second.base == first.commit
        # A `git commit` now would not delete the status files the first pass wrote.
        assert gitrepos.status(local.path) == ""

    def test_a_lone_surrogate_in_one_offer_s_marketplace_answer_spares_the_others(
        self, local: Harness, gitrepos: GitRepos
    ) -> None:
        # A JSON answer may escape a lone surrogate; it reaches alpha's condition message.
        # No log record is made while it runs: pytest-xdist sends a test's report, captured
        # log and stderr (where an earlier test may have pointed a handler) as UTF-8.
        local.market.message = "unavailable \udcff"
        local.market.down = {"alpha-offer"}
        logging.disable(logging.CRITICAL)
        try:
            result = local.run()
        finally:
            logging.disable(logging.NOTSET)
        assert set(result.written) == {"alpha-offer", "beta-offer"}
        assert local.status("beta-offer")["phase"] == "Draft"
        messages = [c["message"] for c in local.status("alpha-offer")["conditions"]]
        assert "unavailable \ufffd" in messages


class TestIncremental:
    """A pass after a change costs the changed offers (and those in flight), not all."""

    @pytest.fixture
    def drafts(self, gitrepos: GitRepos, market: Interposed, clock: Clock) -> Harness:
        files: dict[str, bytes] = {}
        for index in range(6):
            files.update(offer_files(f"draft-{index:02}", "draft"))
        return Harness(gitrepos.init("drafts", files), market, clock, Watch())

    def test_only_the_changed_offer_is_evaluated(self, drafts: Harness, gitrepos: GitRepos) -> None:
        assert drafts.run().full
        text = (drafts.path / "offers/draft-03/offer.yaml").read_text()
        gitrepos.commit(
            drafts.path,
            {
                "offers/draft-03/offer.yaml": text.replace("target: draft", "target: preview"),
            },
        )
        result = drafts.run()
        assert not result.full
        assert result.evaluated == ("draft-03",)
        assert result.written == ("draft-03",)

    def test_a_no_op_pass_evaluates_nothing(self, drafts: Harness) -> None:
        drafts.run()
        result = drafts.run()
        assert result.evaluated == () and result.commit is None

    def test_offers_in_flight_are_polled(self, drafts: Harness, gitrepos: GitRepos) -> None:
        gitrepos.commit(drafts.path, offer_files("moving-offer", "preview"))
        drafts.run()
        assert drafts.run().evaluated == ("moving-offer",)

    def test_an_offer_in_flight_says_when_it_next_expects_news(
        self, drafts: Harness, gitrepos: GitRepos
    ) -> None:
        gitrepos.commit(drafts.path, offer_files("moving-offer", "preview"))
        result = drafts.run()
        assert "moving-offer" in result.in_flight
        assert set(result.wake_at) == {"moving-offer"}  # the drafts are at rest: no timer

    def test_rewritten_history_means_a_full_pass(self, drafts: Harness, gitrepos: GitRepos) -> None:
        drafts.run()
        git(drafts.path, "commit", "-q", "--amend", "-m", "rewritten status")
        assert drafts.run().full

    def test_a_policy_change_means_a_full_pass(self, drafts: Harness, gitrepos: GitRepos) -> None:
        drafts.run()
        gitrepos.commit(
            drafts.path,
            {
                "publishing.yaml": (
                    "apiVersion: offers.marketplace/v1\nkind: Publishing\nprune: true\n"
                ),
            },
        )
        assert drafts.run().full


class TestParts:
    """A daemon shard reconciles only its offers and keeps its own record."""

    def test_included_offers_only(self, local: Harness, gitrepos: GitRepos) -> None:
        with GitRepo(local.path) as repo:
            result = Reconciler(
                repo,
                local.market,
                validate=default_validate,
                clock=local.clock,
                include=lambda offer: offer.startswith("beta"),
                part="shard-0-of-2",
            ).run_pass()
            assert result.evaluated == ("beta-offer",)
            assert repo.resolve("refs/offerctl/parts/shard-0-of-2/heads/main") == result.commit
            assert repo.resolve("refs/offerctl/reconciled/heads/main") is None
        assert local.run().full  # the whole-branch record is separate

    def test_a_subset_needs_a_name(self, local: Harness) -> None:
        with GitRepo(local.path) as repo, pytest.raises(ValueError, match="part"):
            Reconciler(
                repo,
                local.market,
                validate=default_validate,
                clock=local.clock,
                include=lambda offer: True,
            )


class TestRemote:
    """With --remote: fetch, read the remote tip, push the status commit, never force."""

    @pytest.fixture
    def remote(self, gitrepos: GitRepos, market: Interposed, clock: Clock) -> Harness:
        bare = gitrepos.bare(
            "remote.git",
            {
                **offer_files("alpha-offer"),
                **offer_files("beta-offer", "draft"),
            },
        )
        clone = gitrepos.clone(bare, "controller")
        return Harness(clone, market, clock, Watch(branch="main", remote="origin"))

    def test_status_commit_is_pushed(self, remote: Harness, gitrepos: GitRepos) -> None:
        result = remote.run()
        bare = gitrepos.root / "remote.git"
        assert result.commit is not None and gitrepos.head(bare, "main") == result.commit
        assert remote.run().commit is None

    def test_a_push_between_fetch_and_push_is_rebased_over_and_kept(
        self, remote: Harness, gitrepos: GitRepos
    ) -> None:
        bare = gitrepos.root / "remote.git"
        person = gitrepos.clone(bare, "person")

        def person_pushes() -> None:
            gitrepos.commit(person, offer_files("gamma-offer"), "add gamma")
            git(person, "push", "-q", "origin", "main")

        theirs_before = gitrepos.head(bare, "main")
        remote.market.before_listing = person_pushes
        result = remote.run()
        assert result.attempts == 2
        tip = gitrepos.head(bare, "main")
        assert tip == result.commit
        history = git(bare, "log", "--format=%s", "main").splitlines()
        assert history[:2] == [history[0], "add gamma"] and history[0].startswith("status:")
        assert theirs_before in git(bare, "rev-list", "main")
        # gamma came in with the person's push and was reconciled in the same pass.
        assert "offers/gamma-offer/status.yaml" in git(bare, "ls-tree", "-r", "--name-only", "main")

    def test_an_unreachable_remote_ends_the_pass_and_writes_nothing(
        self, remote: Harness, gitrepos: GitRepos
    ) -> None:
        git(remote.path, "remote", "set-url", "origin", str(gitrepos.root / "gone.git"))
        with pytest.raises(TransientError, match="could not fetch"):
            remote.run()
        assert remote.market.submits == []

    def test_the_cli_exits_1_with_a_clear_message_when_the_remote_is_down(
        self, remote: Harness, gitrepos: GitRepos, capsys: pytest.CaptureFixture[str]
    ) -> None:
        git(remote.path, "remote", "set-url", "origin", str(gitrepos.root / "gone.git"))
        code = main(
            ["reconcile", "--repo", str(remote.path), "--remote", "origin", "--branch", "main"]
        )
        assert code == 1
        assert "could not fetch" in capsys.readouterr().err


class TestCommand:
    def test_reconcile_verb_runs_a_pass(
        self,
        gitrepos: GitRepos,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        repo = gitrepos.init("cli", offer_files("alpha-offer", "draft"))
        monkeypatch.setenv("OFFERCTL_TIME_SCALE", "1000000")
        assert main(["reconcile", "--repo", str(repo)]) == 0
        out = capsys.readouterr().out
        assert "alpha-offer New\u2192Draft" in out
        assert main(["reconcile", "--repo", str(repo)]) == 0
        assert "nothing committed" in capsys.readouterr().out

    def test_remote_without_branch_is_a_usage_error(self, gitrepos: GitRepos) -> None:
        repo = gitrepos.init("cli", offer_files("alpha-offer", "draft"))
        assert main(["reconcile", "--repo", str(repo), "--remote", "origin"]) == 2

    def test_an_option_like_branch_is_refused(self, gitrepos: GitRepos) -> None:
        repo = gitrepos.init("cli", offer_files("alpha-offer", "draft"))
        assert main(["reconcile", "--repo", str(repo), "--branch=--upload-pack=x"]) == 2


def test_commit_message_summarises_transitions() -> None:
    from controller.core.model import Phase
    from controller.reconcile.reconciler import Transition

    message = commit_message(
        [
            Transition("contoso-x", Phase.CERTIFYING, Phase.PACKAGING),
            Transition("b", None, Phase.VALIDATING),
        ],
        ["contoso-x", "b", "c"],
    )
    subject, _, body = message.partition("\n\n")
    assert subject == "status: contoso-x Certifying\u2192Packaging (+2 more)"
    assert body.splitlines() == [
        "contoso-x Certifying\u2192Packaging",
        "b New\u2192Validating",
        "c updated",
    ]
