"""End-to-end scenarios for HAZARDS.md's "Git" list and the repository-level manifest hazards.

Each test drives real reconcile passes (in-process `Reconciler`, or the
`offerctl reconcile` command line) over real git repositories, a bare remote
and a second clone where a person works, against the simulated marketplace
on a clock the test moves. Each asserts what a user must see: the phase and
conditions in status.yaml, the command's exit status and message, and what
the marketplace was (or was not) asked to do.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from git_helpers import GitRepos, git
from market_helpers import Clock, Interposed

from controller.cli import main
from controller.core.errors import TransientError, UserError
from controller.git.repo import GitRepo
from controller.marketplace.simulated import SimulatedMarketplace
from controller.reconcile.reconciler import (
    PassResult,
    Reconciler,
    Watch,
    default_judge,
    default_validate,
)

# chaos: many reconcile passes over real repositories per test
pytestmark = pytest.mark.slow(budget=30)

EXAMPLES = Path(__file__).resolve().parents[2] / "offers"
TEMPLATE = "fabrikam-case-triage"
APPROVER = ("Rita Reviewer", "rita@contoso.com")


def policy(*, prune: bool = False) -> str:
    text = (
        "apiVersion: offers.marketplace/v1\nkind: Publishing\n"
        f"signoff:\n  approvers: [{APPROVER[1]}]\n"
        # These scenarios are about git hazards; typed trailers stand in for review.
        "  trust: push-access\n"
    )
    return text + ("prune: true\n" if prune else "")


def offer_files(offer: str, target: str = "live", *, name: str | None = None) -> dict[str, bytes]:
    """The example offer as offers/<offer>/..., with metadata.name `name` (default: the folder)."""
    folder = EXAMPLES / TEMPLATE
    files: dict[str, bytes] = {}
    for path in folder.rglob("*"):
        if path.is_file() and path.name not in ("status.yaml", "signoff.yaml"):
            files[f"offers/{offer}/{path.relative_to(folder).as_posix()}"] = path.read_bytes()
    text = files[f"offers/{offer}/offer.yaml"].decode()
    text = text.replace(f"name: {TEMPLATE}", f"name: {name or offer}", 1)
    text = re.sub(r"^  target: \w+$", f"  target: {target}", text, count=1, flags=re.M)
    files[f"offers/{offer}/offer.yaml"] = text.encode()
    return files


def manifest(files: Mapping[str, bytes], offer: str) -> str:
    return files[f"offers/{offer}/offer.yaml"].decode()


class World:
    """One watched branch: local (commits onto `repo`'s main) or remote (a bare `origin`).

    `person` is where people commit: the controller's own checkout in local
    mode, a second clone pushing to the bare remote in remote mode.
    """

    def __init__(self, gitrepos: GitRepos, files: Mapping[str, bytes], *, remote: bool) -> None:
        self.gitrepos = gitrepos
        self.clock = Clock()
        self.market = Interposed(
            SimulatedMarketplace(gitrepos.root / "market.db", time_scale=1.0, clock=self.clock)
        )
        self.remote = remote
        if remote:
            self.bare: Path | None = gitrepos.bare(files=dict(files))
            self.repo = gitrepos.clone(self.bare, "controller")
            self.person = gitrepos.clone(self.bare, "person")
            self.watch = Watch(branch="main", remote="origin")
        else:
            self.bare = None
            self.repo = gitrepos.init("work", dict(files))
            self.person = self.repo
            self.watch = Watch()

    @property
    def branch_repo(self) -> Path:
        return self.bare if self.bare is not None else self.repo

    def run(self, *, full: bool = False) -> PassResult:
        with GitRepo(self.repo) as repo:
            reconciler = Reconciler(
                repo,
                self.market,
                validate=default_validate,
                judge=default_judge(repo),
                watch=self.watch,
                clock=self.clock,
                sleep=lambda _: None,
            )
            return reconciler.run_pass(full=full)

    def cli(self, *extra: str) -> int:
        argv = ["reconcile", "--repo", str(self.repo), "--marketplace", "sim"]
        if self.remote:
            argv += ["--remote", "origin", "--branch", "main"]
        return main([*argv, *extra])

    def tip(self) -> str:
        return git(self.branch_repo, "rev-parse", "main").strip()

    def status(self, offer: str, rev: str = "main") -> dict[str, Any]:
        data: dict[str, Any] = yaml.safe_load(
            git(self.branch_repo, "show", f"{rev}:offers/{offer}/status.yaml")
        )
        return data

    def has_status(self, offer: str) -> bool:
        tree = git(self.branch_repo, "ls-tree", "-r", "--name-only", "main", "--", "offers")
        return f"offers/{offer}/status.yaml" in tree.split()

    def commit(self, files: Mapping[str, str | bytes | None], message: str = "Change") -> str:
        """A person's commit landing on the watched branch."""
        if self.remote:
            git(self.person, "pull", "-q", "--rebase", "origin", "main")
        commit = self.gitrepos.commit(self.person, files, message)
        if self.remote:
            git(self.person, "push", "-q", "origin", "main")
        return commit

    def sign_off(self, offer: str, generation: str) -> str:
        """An approved merge of signoff.yaml for `generation`, as a review platform makes it."""
        if self.remote:
            git(self.person, "pull", "-q", "--rebase", "origin", "main")
        git(self.person, "checkout", "-q", "-b", f"signoff/{offer}")
        document = (
            "apiVersion: offers.marketplace/v1\nkind: SignOff\n"
            f"offer: {offer}\ngeneration: {generation}\n"
        )
        self.gitrepos.commit(self.person, {f"offers/{offer}/signoff.yaml": document}, "Sign off")
        git(self.person, "checkout", "-q", "main")
        trailer = f"Approved-by: {APPROVER[0]} <{APPROVER[1]}>"
        git(self.person, "merge", "-q", "--no-ff", f"signoff/{offer}", "-m", "Merge", "-m", trailer)
        git(self.person, "branch", "-q", "-D", f"signoff/{offer}")
        if self.remote:
            git(self.person, "push", "-q", "origin", "main")
        return git(self.person, "rev-parse", "HEAD").strip()

    def make_live(self, offer: str) -> None:
        """Drive `offer` (target live) through the whole pipeline, signed off, to Live."""
        self.run()
        self.clock.advance(days=10)
        self.run()
        assert self.status(offer)["phase"] == "AwaitingSignOff"
        self.sign_off(offer, self.status(offer)["observedGeneration"])
        self.run()
        self.clock.advance(days=6)
        self.run()
        assert self.status(offer)["phase"] == "Live"
        assert self.market.inner.listing(offer).live_generation


@pytest.fixture
def local_world(gitrepos: GitRepos) -> World:
    return World(
        gitrepos, {"publishing.yaml": policy().encode(), **offer_files("alpha-offer")}, remote=False
    )


@pytest.fixture
def remote_world(gitrepos: GitRepos) -> World:
    return World(
        gitrepos, {"publishing.yaml": policy().encode(), **offer_files("alpha-offer")}, remote=True
    )


def condition(data: Mapping[str, Any], type_: str) -> dict[str, Any] | None:
    for found in data.get("conditions") or ():
        if found["type"] == type_:
            return dict(found)
    return None


# ---------------------------------------------------------------- 1. hand-edited status.yaml


class TestHandEditedStatus:
    @pytest.mark.parametrize(
        "edit",
        [
            "phase: Live\n",
            b"\x00\xff not yaml: [\n",
            "offer: alpha-offer\nphase: Live\nsignOff: {valid: true}\n",
            "REAL-BUT-GOING-LIVE",
        ],
        ids=["fake-live", "garbage", "fake-signoff", "well-formed-going-live"],
    )
    def test_a_hand_edit_is_regenerated_and_not_obeyed(
        self, local_world: World, edit: str | bytes
    ) -> None:
        w = local_world
        w.run()
        w.clock.advance(days=10)
        w.run()
        assert w.status("alpha-offer")["phase"] == "AwaitingSignOff"
        if edit == "REAL-BUT-GOING-LIVE":
            real = w.status("alpha-offer")
            real["phase"] = "GoingLive"
            real["conditions"] = [
                {**c, "status": "True"} if c["type"] in {"SignedOff", "Ready"} else c
                for c in real["conditions"]
            ]
            edit = yaml.safe_dump(real, sort_keys=False)
        w.commit({"offers/alpha-offer/status.yaml": edit}, "I say it is live")
        result = w.run()
        assert result.written == ("alpha-offer",)
        assert w.status("alpha-offer")["phase"] == "AwaitingSignOff"
        assert not w.market.did("go_live", "alpha-offer")
        assert not w.market.inner.listing("alpha-offer").live_generation
        assert w.run().commit is None  # regenerated once, then stable


# ---------------------------------------------------------------- 2. rewritten history


class TestRewrittenHistory:
    def test_a_signoff_only_in_discarded_history_no_longer_counts(
        self, remote_world: World
    ) -> None:
        w = remote_world
        w.run()
        before_signoff = w.tip()
        generation = w.status("alpha-offer")["observedGeneration"]
        w.sign_off("alpha-offer", generation)  # signed off while still certifying
        w.run()
        # Someone rewrites main to before the sign-off merge and force-pushes.
        git(w.person, "fetch", "-q", "origin")
        git(w.person, "reset", "-q", "--hard", before_signoff)
        rewritten = w.gitrepos.commit(w.person, {"NOTES.md": "rewritten\n"}, "Rewritten history")
        git(w.person, "push", "-q", "--force", "origin", "main")
        w.clock.advance(days=10)
        result = w.run()
        assert result.full  # the recorded commit is no longer an ancestor: everything again
        data = w.status("alpha-offer")
        assert data["phase"] == "AwaitingSignOff"
        assert not w.market.did("go_live", "alpha-offer")
        # The status commit sits on the rewritten history; nothing of the old one came back.
        git(w.branch_repo, "merge-base", "--is-ancestor", rewritten, "main")  # raises if not
        tree = git(w.branch_repo, "ls-tree", "-r", "--name-only", "main")
        assert "offers/alpha-offer/signoff.yaml" not in tree

    def test_a_rebase_that_drops_the_approved_merge_voids_the_signoff(
        self, remote_world: World
    ) -> None:
        w = remote_world
        w.run()
        before_signoff = w.tip()
        generation = w.status("alpha-offer")["observedGeneration"]
        w.sign_off("alpha-offer", generation)
        w.run()
        # Linearised history: signoff.yaml is still there, but brought by a plain commit
        # that no reviewer approved (the merge commit with the trailer is gone).
        git(w.person, "fetch", "-q", "origin")
        git(w.person, "reset", "-q", "--hard", before_signoff)
        signoff = git(w.repo, "show", f"{w.tip()}:offers/alpha-offer/signoff.yaml")
        w.gitrepos.commit(w.person, {"offers/alpha-offer/signoff.yaml": signoff}, "Sign off")
        git(w.person, "push", "-q", "--force", "origin", "main")
        w.clock.advance(days=10)
        result = w.run()
        assert result.full
        data = w.status("alpha-offer")
        assert data["phase"] == "AwaitingSignOff"
        signed = condition(data, "SignedOff")
        assert signed is not None and signed["status"] == "False"
        assert not w.market.did("go_live", "alpha-offer")


# ---------------------------------------------------------------- 3. branch gone, empty repo


class TestBranchGoneOrEmpty:
    def test_a_deleted_remote_branch_is_an_error_not_all_offers_gone(
        self, remote_world: World, capsys: pytest.CaptureFixture[str]
    ) -> None:
        w = remote_world
        w.make_live("alpha-offer")
        calls = list(w.market.calls)
        recorded = git(w.repo, "for-each-ref", "refs/offerctl/", "refs/remotes/").strip()
        assert w.bare is not None
        git(w.bare, "symbolic-ref", "HEAD", "refs/heads/other")
        git(w.bare, "branch", "-q", "-m", "main", "other")  # main is gone from the remote
        capsys.readouterr()
        assert w.cli() == 1
        err = capsys.readouterr().err
        assert "'main' does not exist on remote 'origin'" in err
        assert w.market.calls == calls  # no withdraw, no submit
        assert git(w.repo, "for-each-ref", "refs/offerctl/", "refs/remotes/").strip() == recorded
        assert git(w.bare, "for-each-ref", "refs/heads/").count("\n") == 1  # nothing pushed
        with pytest.raises(UserError):
            w.run()

    def test_an_empty_remote_is_an_error_and_nothing_is_written(
        self, gitrepos: GitRepos, capsys: pytest.CaptureFixture[str]
    ) -> None:
        bare = gitrepos.bare("empty.git")
        clone = gitrepos.clone(bare, "controller")
        code = main(
            ["reconcile", "--repo", str(clone), "--marketplace", "sim", "--remote", "origin",
             "--branch", "main"]
        )  # fmt: skip
        assert code == 1
        assert "does not exist on remote 'origin'" in capsys.readouterr().err
        assert git(bare, "for-each-ref").strip() == ""
        assert git(clone, "for-each-ref", "refs/offerctl/").strip() == ""

    def test_an_empty_local_repository_is_an_error(
        self, gitrepos: GitRepos, capsys: pytest.CaptureFixture[str]
    ) -> None:
        repo = gitrepos.init("empty")
        assert main(["reconcile", "--repo", str(repo), "--marketplace", "sim"]) == 1
        assert "no commits" in capsys.readouterr().err
        assert git(repo, "for-each-ref").strip() == ""


# ---------------------------------------------------------------- 4. remote down


class TestRemoteDown:
    @pytest.mark.parametrize(
        "url",
        [
            "https://deploy:s3cr3t-t0ken@127.0.0.1:1/offers.git",
            "ssh://deploy:s3cr3t-t0ken@127.0.0.1:1/offers.git",
            "https://deploy:s3cr3t-t0ken@offers.invalid/offers.git",
            "/nonexistent/offers.git",
        ],
        ids=["https-refused", "ssh-refused", "dns-failure", "missing-path"],
    )
    def test_exit_1_with_a_masked_clear_message_and_last_status_kept(
        self,
        remote_world: World,
        url: str,
        capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        w = remote_world
        w.run()
        tip, before = w.tip(), w.status("alpha-offer")
        recorded = git(w.repo, "for-each-ref", "refs/offerctl/", "refs/remotes/").strip()
        calls = list(w.market.calls)
        git(w.repo, "remote", "set-url", "origin", url)
        env = {"GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o ConnectTimeout=2"}
        with pytest.MonkeyPatch.context() as mp, caplog.at_level(logging.DEBUG):
            for key, value in env.items():
                mp.setenv(key, value)
            capsys.readouterr()
            assert w.cli() == 1
        out, err = capsys.readouterr()
        assert "could not fetch 'main' from 'origin'" in err
        everything = out + err + caplog.text
        assert "s3cr3t" not in everything
        assert w.tip() == tip and w.status("alpha-offer") == before
        assert git(w.repo, "for-each-ref", "refs/offerctl/", "refs/remotes/").strip() == recorded
        assert w.market.calls == calls
        with pytest.raises(TransientError) as raised:
            w.run()
        assert "s3cr3t" not in str(raised.value)


# ---------------------------------------------------------------- 5. leftover index.lock


class TestLeftoverLocks:
    def test_a_stale_index_lock_is_cleared_with_a_warning(
        self, local_world: World, caplog: pytest.LogCaptureFixture
    ) -> None:
        w = local_world
        lock = w.repo / ".git" / "index.lock"
        lock.write_bytes(b"")
        old = time.time() - 3600
        os.utime(lock, (old, old))
        with caplog.at_level(logging.WARNING):
            result = w.run()
        assert result.commit == w.tip()
        assert not lock.exists()
        assert "stale git lock" in caplog.text and "index.lock" in caplog.text
        assert w.gitrepos.status(w.repo) == ""

    def test_a_fresh_index_lock_is_a_transient_error_then_no_wedge(
        self, local_world: World, capsys: pytest.CaptureFixture[str]
    ) -> None:
        w = local_world
        tip = w.tip()
        lock = w.repo / ".git" / "index.lock"
        lock.write_bytes(b"")
        with pytest.raises(TransientError, match=r"index\.lock"):
            w.run()
        assert lock.exists() and w.tip() == tip and w.market.calls == []
        assert w.cli() == 1
        assert "index.lock" in capsys.readouterr().err
        old = time.time() - 3600  # the git that held it died long ago
        os.utime(lock, (old, old))
        assert w.run().commit == w.tip() != tip

    def test_a_stale_ref_lock_in_a_remote_checkout_is_cleared(self, remote_world: World) -> None:
        w = remote_world
        w.run()
        lock = w.repo / ".git" / "refs" / "remotes" / "origin" / "main.lock"
        lock.write_bytes(b"")
        old = time.time() - 3600
        os.utime(lock, (old, old))
        w.commit({"NOTES.md": "hi\n"})
        w.run()
        assert not lock.exists()
        assert w.tip() == git(w.repo, "rev-parse", "origin/main").strip()


# ---------------------------------------------------------------- 6. odd folders and manifests


class TestOddFoldersAndManifests:
    ODD_MANIFESTS: Mapping[str, str | bytes] = {
        "empty-offer": b"",
        "null-offer": "null\n",
        "comment-offer": "# nothing here yet\n",
        "list-offer": "- a\n- b\n",
    }

    def test_each_odd_folder_gets_a_finding_or_is_skipped_and_none_means_delete(
        self, local_world: World, caplog: pytest.LogCaptureFixture
    ) -> None:
        w = local_world
        w.run()
        good = w.status("alpha-offer")
        files: dict[str, str | bytes | None] = {
            f"offers/{offer}/offer.yaml": text for offer, text in self.ODD_MANIFESTS.items()
        }
        files["offers/no-manifest/README.md"] = "just notes\n"
        twin = offer_files("alpha-twin", "draft", name="alpha-offer")
        files.update(twin)
        files.update(offer_files("Gamma-Offer", "draft", name="gamma-offer"))
        w.commit(files, "odd folders")
        with caplog.at_level(logging.WARNING):
            result = w.run()
        assert result.errors == {}
        for offer in self.ODD_MANIFESTS:
            data = w.status(offer)
            assert data["phase"] == "Invalid", (offer, data)
            assert data["feedback"], offer
        assert w.status("alpha-twin")["phase"] == "Invalid"  # name != folder
        assert "alpha-twin" in str(w.status("alpha-twin")["feedback"])
        gamma = w.status("Gamma-Offer")  # not a valid id, but no other folder to clash with
        assert gamma["phase"] == "Invalid" and "InvalidOfferId" in str(gamma["feedback"])
        assert not w.has_status("no-manifest")
        assert w.status("alpha-offer")["phase"] == good["phase"]  # untouched by its twins
        assert all(verb == "submit" and offer == "alpha-offer" for verb, offer in w.market.calls)

    def test_a_folder_differing_only_in_case_is_skipped_and_never_shadows_the_offer(
        self, local_world: World, caplog: pytest.LogCaptureFixture
    ) -> None:
        # On a case-insensitive checkout offers/Alpha-Offer/status.yaml would be the same
        # file as offers/alpha-offer/status.yaml: the controller must not write it.
        w = local_world
        w.run()
        good = w.status("alpha-offer")
        w.commit(offer_files("Alpha-Offer", "draft", name="alpha-offer"), "case twin")
        with caplog.at_level(logging.WARNING):
            result = w.run()
        assert "Alpha-Offer" not in result.evaluated and result.errors == {}
        assert "differs only in case from offers/'alpha-offer'" in caplog.text
        assert not w.has_status("Alpha-Offer")
        assert w.status("alpha-offer") == good
        assert w.market.calls == [("submit", "alpha-offer")]

    @pytest.mark.parametrize("name", [".git", "..", "."])
    def test_folders_git_refuses_are_skipped_with_a_reason(
        self, local_world: World, name: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        w = local_world
        w.run()
        base = w.tip()
        offers_tree = git(w.repo, "rev-parse", f"{base}:offers").strip()
        blob = git(w.repo, "hash-object", "-w", "--stdin", input=b"kind: Offer\n").strip()
        inner = git(w.repo, "mktree", input=f"100644 blob {blob}\toffer.yaml\n".encode()).strip()
        listing = git(w.repo, "ls-tree", offers_tree) + f"040000 tree {inner}\t{name}\n"
        new_offers = git(w.repo, "mktree", "--missing", input=listing.encode()).strip()
        root_lines = [
            f"040000 tree {new_offers}\toffers" if line.endswith("\toffers") else line
            for line in git(w.repo, "ls-tree", base).splitlines()
        ]
        tree = git(w.repo, "mktree", input=("\n".join(root_lines) + "\n").encode()).strip()
        commit = git(w.repo, "commit-tree", tree, "-p", base, "-m", "odd").strip()
        git(w.repo, "update-ref", "refs/heads/main", commit, base)
        with caplog.at_level(logging.WARNING):
            result = w.run()
        assert name not in result.evaluated
        assert result.errors == {}
        assert "skipping folder" in caplog.text
        changed = git(w.repo, "diff", "--name-only", commit, "main").split()
        assert all(not p.startswith(f"offers/{name}/") for p in changed)
        assert w.status("alpha-offer")["phase"]

    @pytest.mark.parametrize(
        "broken", [b"", b"null\n", b"# emptied by mistake\n"], ids=["empty", "null", "comment"]
    )
    def test_a_live_offer_whose_manifest_is_emptied_is_invalid_not_withdrawn(
        self, gitrepos: GitRepos, broken: bytes
    ) -> None:
        files = {"publishing.yaml": policy(prune=True).encode(), **offer_files("alpha-offer")}
        w = World(gitrepos, files, remote=True)
        w.make_live("alpha-offer")
        w.commit({"offers/alpha-offer/offer.yaml": broken}, "oops")
        w.clock.advance(hours=1)
        w.run()
        data = w.status("alpha-offer")
        assert data["phase"] == "Invalid"
        assert data["feedback"]
        assert not w.market.did("withdraw", "alpha-offer")
        listing = w.market.inner.listing("alpha-offer")
        assert listing.live_generation and not listing.withdrawing


# ---------------------------------------------------------------- 7. withdraw and prune


class TestWithdrawAndPrune:
    def test_target_withdrawn_on_a_live_offer_withdraws_it(self, local_world: World) -> None:
        w = local_world
        w.make_live("alpha-offer")
        text = (w.repo / "offers/alpha-offer/offer.yaml").read_text()
        w.commit(
            {"offers/alpha-offer/offer.yaml": text.replace("target: live", "target: withdrawn")}
        )
        w.clock.advance(minutes=1)
        w.run()
        assert w.status("alpha-offer")["phase"] == "Withdrawing"
        assert w.market.did("withdraw", "alpha-offer")
        w.clock.advance(days=5)
        w.run()
        assert w.status("alpha-offer")["phase"] == "Withdrawn"

    def test_deleting_a_live_offer_with_prune_withdraws_it(self, gitrepos: GitRepos) -> None:
        files = {"publishing.yaml": policy(prune=True).encode(), **offer_files("alpha-offer")}
        w = World(gitrepos, files, remote=False)
        w.make_live("alpha-offer")
        w.commit({"offers/alpha-offer/offer.yaml": None}, "retire alpha")
        w.clock.advance(minutes=1)
        w.run()
        assert w.market.did("withdraw", "alpha-offer")
        assert w.status("alpha-offer")["phase"] == "Withdrawing"
        w.clock.advance(days=5)
        w.run()
        assert w.market.inner.listing("alpha-offer").withdrawn
        # Manifest gone and nothing left in the marketplace: its status goes too.
        assert not w.has_status("alpha-offer")
        assert w.market.calls.count(("withdraw", "alpha-offer")) == 1

    def test_deleting_a_live_offer_without_prune_orphans_it(self, local_world: World) -> None:
        w = local_world
        w.make_live("alpha-offer")
        w.commit({"offers/alpha-offer/offer.yaml": None}, "retire alpha")
        w.clock.advance(minutes=1)
        w.run()
        data = w.status("alpha-offer")
        assert data["phase"] == "Orphaned"
        assert not w.market.did("withdraw", "alpha-offer")
        assert w.market.inner.listing("alpha-offer").live_generation


# ---------------------------------------------------------------- 8. spec change after sign-off


class TestSpecChangeAfterSignOff:
    def test_the_signoff_goes_stale_and_the_new_generation_restarts(
        self, local_world: World
    ) -> None:
        w = local_world
        w.run()
        old = w.status("alpha-offer")["observedGeneration"]
        w.sign_off("alpha-offer", old)  # approved while certifying
        w.run()
        text = (w.repo / "offers/alpha-offer/offer.yaml").read_text()
        changed = text.replace("Routes new support cases", "Routes new cases", 1)
        assert changed != text
        w.commit({"offers/alpha-offer/offer.yaml": changed}, "tweak spec")
        w.clock.advance(minutes=1)
        w.run()
        data = w.status("alpha-offer")
        assert data["observedGeneration"] != old
        assert data["phase"] in {"Validating", "Certifying"}, data["feedback"]
        assert data["stages"][0]["name"] == "Validation"
        stale = condition(data, "SignOffStale")
        assert stale is not None and stale["status"] == "True", data["conditions"]
        w.clock.advance(days=10)
        w.run()
        data = w.status("alpha-offer")
        assert data["phase"] == "AwaitingSignOff"
        assert condition(data, "SignOffStale") is not None
        assert not w.market.did("go_live", "alpha-offer")
