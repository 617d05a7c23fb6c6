"""`offerctl reconcile --notify`: the operator's flag, through the real command line."""

from __future__ import annotations

import io
import re
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from git_helpers import GitRepos
from notify_helpers import webhook_receiver

from controller import cli

ROOT = Path(__file__).resolve().parents[2]


def offerctl(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(list(argv))
    return code, err.getvalue()


def shipped(gitrepos: GitRepos, offer: str) -> Path:
    files: dict[str, str | bytes | None] = {
        str(p.relative_to(ROOT)): p.read_bytes()
        for p in (ROOT / "offers" / offer).rglob("*")
        if p.is_file() and p.name != "status.yaml"
    }
    return gitrepos.init("offers-repo", files)


@pytest.mark.slow
def test_reconcile_notifies_the_flagged_target_once(
    gitrepos: GitRepos, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OFFERCTL_NOTIFY", raising=False)
    repo = shipped(gitrepos, "tailspin-quote-builder")
    with webhook_receiver() as hooks:
        url = f"json://127.0.0.1:{hooks.port}/"
        argv = ("reconcile", "--repo", str(repo), "--time-scale", "1000000", "--notify", url)
        for _ in range(10):  # a week of certification is 0.6 s at this scale
            code, err = offerctl(*argv)
            assert code == 0, err
            if hooks.bodies:
                break
            time.sleep(0.3)
        offerctl(*argv)  # rejected still: nothing new
    assert [b["title"] for b in hooks.bodies] == [
        "offerctl: tailspin-quote-builder rejected by certification"
    ]
    # the marketplace named a JSON path; the message names the line of offer.yaml to fix
    assert re.search(
        r"^- offers/tailspin-quote-builder/offer\.yaml:\d+ "
        r"\(\$\.spec\.technicalConfiguration\.packageFile\): DeploymentFailed: ",
        hooks.bodies[0]["message"],
        flags=re.MULTILINE,
    )
    assert (repo / ".git" / "offerctl" / "notify").is_dir()


def test_a_target_apprise_does_not_know_is_a_usage_error(gitrepos: GitRepos) -> None:
    repo = shipped(gitrepos, "tailspin-quote-builder")
    code, err = offerctl("reconcile", "--repo", str(repo), "--notify", "nosuch://token@host/")
    assert code == 2
    assert "'nosuch' is not a notification URL" in err
    assert "token@host" not in err
