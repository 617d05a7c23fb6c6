"""`offerctl plan` against the simulated marketplace: decides as a pass would, acts on nothing."""

from __future__ import annotations

import http.server
import json
import shutil
import threading
import time
from pathlib import Path

import pytest
from cli_helpers import Ran, env, offerctl
from git_helpers import GitRepos, git

EXAMPLES = Path(__file__).resolve().parents[2] / "offers"
FAST = ("--time-scale", "1000000")


def _repo(gitrepos: GitRepos, *offers: str) -> Path:
    repo = gitrepos.init("plan-repo")
    for offer in offers:
        shutil.copytree(EXAMPLES / offer, repo / "offers" / offer)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "offers")
    return repo


def plan(repo: Path, *argv: str) -> Ran:
    with env(OFFERCTL_MARKETPLACE=None, OFFERCTL_TIME_SCALE=None):
        return offerctl("plan", "--repo", str(repo), *FAST, *argv)


def reconcile(repo: Path) -> None:
    with env(OFFERCTL_MARKETPLACE=None, OFFERCTL_TIME_SCALE=None):
        ran = offerctl("reconcile", "--repo", str(repo), *FAST)
    assert ran.code == 0, ran.err


def test_plan_of_new_offers_submits_and_exits_2_with_detailed_exitcode(
    gitrepos: GitRepos,
) -> None:
    repo = _repo(gitrepos, "contoso-field-insights", "northwind-loyalty-hub")
    ran = plan(repo, "--detailed-exitcode")
    assert ran.code == 2, ran.err
    rows = {line.split()[1]: line for line in ran.out.splitlines() if line.startswith("~ ")}
    assert "submit generation" in rows["contoso-field-insights"]
    assert "this offer has not been submitted yet" in rows["contoso-field-insights"]
    assert " record " in rows["northwind-loyalty-hub"]  # draft: only its status is written
    assert (
        "Plan: 1 offer(s) with marketplace calls, 2 status file(s) to write, 0 unchanged."
        in ran.out
    )
    assert plan(repo).code == 0  # without the flag, changes are not a failure


def test_plan_changes_nothing_in_the_repository_or_the_marketplace(gitrepos: GitRepos) -> None:
    repo = _repo(gitrepos, "contoso-field-insights")
    head = gitrepos.head(repo)
    first = json.loads(plan(repo, "-o", "json").out)
    second = json.loads(plan(repo, "-o", "json").out)
    assert gitrepos.head(repo) == head
    assert gitrepos.status(repo) == ""
    assert git(repo, "for-each-ref", "refs/offerctl") == ""  # no reconciled record either
    assert first == second  # nothing was submitted by the first plan
    assert first["offers"][0]["step"] == "submit"


def test_plan_after_a_pass_that_reached_rest_exits_0(gitrepos: GitRepos) -> None:
    repo = _repo(gitrepos, "northwind-loyalty-hub")  # target draft: at rest after one pass
    reconcile(repo)
    ran = plan(repo, "--detailed-exitcode")
    assert ran.code == 0, ran.out + ran.err
    assert (
        "Plan: 0 offer(s) with marketplace calls, 0 status file(s) to write, 1 unchanged."
        in ran.out
    )
    row = next(line for line in ran.out.splitlines() if "northwind" in line)
    assert row.split()[:6] == ["northwind-loyalty-hub", "Draft", "→", "Draft", "nothing", "target"]


def test_plan_names_the_wait_for_signoff(gitrepos: GitRepos) -> None:
    repo = _repo(gitrepos, "contoso-field-insights")
    deadline = time.monotonic() + 10
    while True:  # submit, then let the compressed stages reach SignOff
        reconcile(repo)
        data = json.loads(plan(repo, "-o", "json").out)
        (offer,) = data["offers"]
        if offer["to"] == "AwaitingSignOff" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert offer["step"] == "await-signoff"
    assert offer["why"].startswith("waiting for sign-off:")
    assert offer["actions"] == []


def test_plan_json_is_the_same_data_as_yaml(gitrepos: GitRepos) -> None:
    import yaml

    repo = _repo(gitrepos, "northwind-loyalty-hub")
    as_json = json.loads(plan(repo, "-o", "json").out)
    as_yaml = yaml.safe_load(plan(repo, "-o", "yaml").out)
    assert as_json == as_yaml
    assert as_json["kind"] == "Plan"
    assert as_json["changes"] is True


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["zulu-offer"], "no offer zulu-offer"),
        (["--remote", "origin"], "--remote needs --branch"),
        (["--remote", "origin", "--branch", "main", "--rev", "HEAD"], "exclude each other"),
        (["--rev=-x"], "invalid revision"),
    ],
)
def test_usage_errors_exit_2(gitrepos: GitRepos, argv: list[str], message: str) -> None:
    repo = _repo(gitrepos, "northwind-loyalty-hub")
    ran = plan(repo, *argv)
    assert ran.code == 2
    assert message in ran.err


class _Refusing(http.server.BaseHTTPRequestHandler):
    """A marketplace that answers every call with 403: a failure no retry cures."""

    def _refuse(self) -> None:
        self.send_response(403)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _refuse

    def log_message(self, *args: object) -> None:
        pass


def test_a_marketplace_that_fails_makes_the_offer_an_error_and_exit_1(
    gitrepos: GitRepos,
) -> None:
    repo = _repo(gitrepos, "contoso-field-insights")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with env(OFFERCTL_TIME_SCALE=None):
            ran = offerctl("plan", "--repo", str(repo), "--marketplace", url, "--detailed-exitcode")
    finally:
        server.shutdown()
        server.server_close()
    assert ran.code == 1, ran.out + ran.err
    row = next(line for line in ran.out.splitlines() if "contoso" in line)
    assert row.split()[4] == "error"
    assert "HTTP 403" in row
