"""Crash tests: `offerctl reconcile` SIGKILLed at each failpoint, restarted, still correct.

Each case builds a bare remote holding two shipped example offers, runs
`python -m controller reconcile` as a subprocess with OFFERCTL_FAILPOINT set
until it dies by SIGKILL at that step, lets a person push a commit meanwhile,
then runs plain passes until the offers settle and checks what must hold
after any crash: one submission per offer and idempotency key (nothing
resubmitted), no lock left that blocks a pass, every status.yaml parses and
validates, the person's commit is kept, and each offer reaches its phase.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from git_helpers import GitRepos, git

from controller import failpoint as fp
from controller.marketplace.factory import default_db_path
from controller.marketplace.simulated import SimulatedMarketplace
from controller.repo import status
from controller.validation import engine

# crash tests: each kills a real offerctl with SIGKILL and restarts it
pytestmark = pytest.mark.slow(budget=30)

EXAMPLES = Path(__file__).resolve().parent.parent / "offers"
CONTOSO = "contoso-field-insights"  # target live: waits for a sign-off
FABRIKAM = "fabrikam-case-triage"  # target preview
APPROVER = ("Rita Reviewer", "rita@contoso.com")
POLICY = f"""\
apiVersion: offers.marketplace/v1
kind: Publishing
signoff:
  approvers: [{APPROVER[1]}]
  trust: push-access  # typed trailers stand in for review; signatures are tested elsewhere
"""
PASS_TIMEOUT = 60.0  # seconds for one reconcile subprocess; a hang fails the test
MAX_PASSES = 12


def example_files(*offers: str) -> dict[str, bytes]:
    files: dict[str, bytes] = {"publishing.yaml": POLICY.encode()}
    for offer in offers:
        folder = EXAMPLES / offer
        for path in folder.rglob("*"):
            if path.is_file() and path.name not in ("status.yaml", "signoff.yaml"):
                files[f"offers/{offer}/{path.relative_to(folder).as_posix()}"] = path.read_bytes()
    return files


@dataclass
class Setup:
    gitrepos: GitRepos
    remote: Path
    controller: Path  # the clone offerctl reconciles
    person: Path  # a second clone, where a person works
    local: bool  # local mode: offerctl commits onto the controller clone's main, no push

    @property
    def branch_repo(self) -> Path:
        """The repository whose main is the watched branch."""
        return self.controller if self.local else self.remote

    def reconcile(self, failpoint: str = "") -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "controller", "reconcile", "--repo", str(self.controller)]
        argv += ["--branch", "main"] if self.local else ["--remote", "origin", "--branch", "main"]
        argv += ["--marketplace", "sim", "--time-scale", "1000000"]
        env = {k: v for k, v in os.environ.items() if k != fp.ENV}
        if failpoint:
            env[fp.ENV] = failpoint
        return subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=PASS_TIMEOUT, check=False
        )

    def tip(self) -> str:
        return git(self.branch_repo, "rev-parse", "main").strip()

    def statuses(self) -> dict[str, bytes]:
        """offers/<id>/status.yaml bytes at the watched branch's tip, by offer."""
        listing = git(self.branch_repo, "ls-tree", "-r", "--name-only", "main", "--", "offers")
        found: dict[str, bytes] = {}
        for path in listing.split():
            if path.endswith("/status.yaml"):
                blob = subprocess.run(
                    ["git", "cat-file", "blob", f"main:{path}"],
                    cwd=self.branch_repo,
                    capture_output=True,
                    check=True,
                ).stdout
                found[path.split("/")[1]] = blob
        return found

    def phases(self) -> dict[str, str]:
        phases = {}
        for offer, data in self.statuses().items():
            parsed = status.parse(data, name=f"{offer}/status.yaml")
            phases[offer] = parsed.phase.value if parsed is not None else "unparsed"
        return phases

    def person_commits(self, name: str) -> str:
        """A person's unrelated change landing on the watched branch while offerctl is down."""
        if self.local:
            # They work in the same checkout: stage their one file and commit the index.
            (self.controller / name).write_text("a person's notes\n")
            git(self.controller, "add", "--", name)
            git(self.controller, "commit", "-q", "-m", f"Add {name}")
            return git(self.controller, "rev-parse", "HEAD").strip()
        git(self.person, "pull", "-q", "--rebase", "origin", "main")
        commit = self.gitrepos.commit(self.person, {name: "a person's notes\n"}, f"Add {name}")
        git(self.person, "push", "-q", "origin", "main")
        return commit

    def sign_off(self, offer: str) -> None:
        """Sign `offer`'s current generation off the way a review platform would merge it."""
        where = self.controller if self.local else self.person
        if not self.local:
            git(where, "pull", "-q", "--rebase", "origin", "main")
        out = subprocess.run(
            [sys.executable, "-m", "controller", "signoff", offer, "--repo", str(where)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        branch = git(where, "branch", "--list", "--format=%(refname:short)", "signoff/*").strip()
        assert branch, out
        trailer = f"Approved-by: {APPROVER[0]} <{APPROVER[1]}>"
        git(where, "merge", "-q", "--no-ff", branch, "-m", f"Sign off {offer}", "-m", trailer)
        if not self.local:
            git(where, "push", "-q", "origin", "main")


def make_setup(gitrepos: GitRepos, *, local: bool) -> Setup:
    remote = gitrepos.bare(files=example_files(CONTOSO, FABRIKAM))
    return Setup(
        gitrepos,
        remote,
        gitrepos.clone(remote, "controller"),
        gitrepos.clone(remote, "person"),
        local,
    )


def run_until(setup: Setup, want: Mapping[str, str]) -> dict[str, str]:
    """Plain passes (each must succeed) until the offers' phases are `want`; the phases."""
    phases: dict[str, str] = {}
    for _ in range(MAX_PASSES):
        proc = setup.reconcile()
        assert proc.returncode == 0, proc.stderr
        phases = setup.phases()
        if phases == want:
            break
    return phases


def crash_at(setup: Setup, name: str) -> None:
    """Passes with the failpoint armed until one dies by SIGKILL there."""
    for _ in range(MAX_PASSES):
        proc = setup.reconcile(name)
        if proc.returncode == -signal.SIGKILL:
            return
        assert proc.returncode == 0, proc.stderr
    pytest.fail(f"no pass reached failpoint {name}")


def check_invariants(setup: Setup, person_commit: str) -> None:
    market = SimulatedMarketplace(default_db_path(setup.controller / ".git"), time_scale=1e6)
    submissions = market.submissions()
    keys = [s.idempotency_key for s in submissions]
    assert len(keys) == len(set(keys)), keys
    # One generation per offer and no crash made offerctl try again: one submission each.
    assert sorted(s.offer for s in submissions) == [CONTOSO, FABRIKAM], keys

    git_dir = setup.controller / ".git"
    stale = [p for p in git_dir.rglob("*.lock") if not p.name.startswith("pass.")]
    assert stale == []

    statuses = setup.statuses()
    assert sorted(statuses) == [CONTOSO, FABRIKAM]
    for offer, data in statuses.items():
        parsed = status.parse(data, name=f"{offer}/status.yaml")
        assert parsed is not None and parsed.offer == offer
        assert engine.check_instance("status", status.to_dict(parsed)) == []

    repo = setup.branch_repo
    git(repo, "merge-base", "--is-ancestor", person_commit, "main")  # raises if not
    # The person's commit is theirs alone: it carries no controller file with it.
    touched = git(repo, "show", "--name-only", "--format=", person_commit).split()
    assert touched == [touched[0]] and touched[0].startswith("notes-"), touched
    if setup.local:
        assert git(setup.controller, "status", "--porcelain") == ""


SETTLED = {CONTOSO: "AwaitingSignOff", FABRIKAM: "Preview"}

REMOTE_CASES = [
    fp.AFTER_SUBMIT,
    fp.AFTER_COMMIT_OBJECT,
    fp.BEFORE_PUSH,
    fp.AFTER_PUSH,
    fp.MID_STATE_WRITE,
]
# Local mode differs only in how the branch moves (a compare-and-swap, then the checkout sync).
LOCAL_CASES = [fp.AFTER_COMMIT_OBJECT, fp.AFTER_REF_UPDATE]


def test_every_failpoint_is_exercised_here() -> None:
    covered = set(REMOTE_CASES) | set(LOCAL_CASES) | {fp.AFTER_GO_LIVE}
    assert covered == set(fp.ALL)


@pytest.mark.parametrize(
    ("name", "local"),
    [(n, False) for n in REMOTE_CASES] + [(n, True) for n in LOCAL_CASES],
    ids=[f"remote-{n}" for n in REMOTE_CASES] + [f"local-{n}" for n in LOCAL_CASES],
)
def test_a_pass_killed_at_the_failpoint_recovers_on_restart(
    gitrepos: GitRepos, name: str, local: bool
) -> None:
    setup = make_setup(gitrepos, local=local)

    crash_at(setup, name)
    if local:
        # The person shares this checkout: offerctl restarts before they next commit
        # (a killed pass cannot fix their index until it runs again).
        assert setup.reconcile().returncode == 0
    person_commit = setup.person_commits("notes-during-crash.md")

    assert run_until(setup, SETTLED) == SETTLED
    check_invariants(setup, person_commit)


def test_a_pass_killed_after_go_live_goes_live_once(gitrepos: GitRepos) -> None:
    setup = make_setup(gitrepos, local=False)
    assert run_until(setup, SETTLED) == SETTLED
    setup.sign_off(CONTOSO)

    crash_at(setup, fp.AFTER_GO_LIVE)
    person_commit = setup.person_commits("notes-during-crash.md")

    live = {CONTOSO: "Live", FABRIKAM: "Preview"}
    assert run_until(setup, live) == live
    check_invariants(setup, person_commit)


def test_an_unarmed_failpoint_does_nothing() -> None:
    fp.failpoint(fp.AFTER_SUBMIT)  # OFFERCTL_FAILPOINT is not set in the test process


def test_a_comma_list_arms_each_name(tmp_path: Path) -> None:
    code = "from controller.failpoint import failpoint; failpoint('b'); print('alive')"
    env = {**os.environ, fp.ENV: "a, b"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=False)
    assert proc.returncode == -signal.SIGKILL and proc.stdout == b""
    env[fp.ENV] = "a,bb"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=False)
    assert proc.returncode == 0 and proc.stdout == b"alive\n"
