"""An offer changes shard while its Partner Center submission is in flight (issue #14).

Each shard has its own clone, so its own records (`.git/offerctl/records`) and
its own Partner Center client state (`.git/offerctl/partnercenter.json`).
Shard A (one clone) submits; the handover leaves A stopped and shard B, a
fresh clone of the same remote that never saw the offer, reconciles on. B
must adopt A's submission from what Partner Center reports (its idempotency
key), never make another, and carry the offer on to its target. Every pass is
a real `python -m controller reconcile --remote origin` subprocess; the
emulator is a subprocess on a free loopback port.

The shard-map handover itself (old shards stop before new ones act) is
tested in tests/daemon/test_shard_map_ref.py; here A simply runs no more.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from azurite_helpers import Azurite
from git_helpers import GitRepos
from pc_helpers import TOKEN, Emulator, emulator
from test_partnercenter_e2e import FABRIKAM, LEADS_KEY, MAX_PASSES, PASS_TIMEOUT, offer_files

from controller import failpoint as fp

pytestmark = pytest.mark.slow(budget=60)


class Shards:
    def __init__(self, gitrepos: GitRepos, emu: Emulator, env: dict[str, str]) -> None:
        self.emu = emu
        self.env = env
        self.remote = gitrepos.bare(files=offer_files(FABRIKAM))
        self.a = gitrepos.clone(self.remote, "shard-a")
        self.b = gitrepos.clone(self.remote, "shard-b")

    def reconcile(self, clone: Path) -> None:
        argv = [sys.executable, "-m", "controller", "reconcile", "--repo", str(clone),
                "--remote", "origin", "--branch", "main", "--poll-interval", "0",
                "--marketplace", f"partnercenter+{self.emu.url}"]  # fmt: skip
        env = {k: v for k, v in os.environ.items()
               if k not in (fp.ENV, "OFFERCTL_TIME_SCALE", "OFFERCTL_MARKETPLACE")}  # fmt: skip
        env.update(self.env, OFFERCTL_PARTNERCENTER_TOKEN=TOKEN, FABRIKAM_LEADS_APP_KEY=LEADS_KEY)
        proc = subprocess.run(argv, env=env, capture_output=True, text=True,
                              timeout=PASS_TIMEOUT, check=False)  # fmt: skip
        assert proc.returncode == 0, proc.stderr

    def status(self) -> dict[str, object]:
        raw = subprocess.run(
            ["git", "cat-file", "blob", f"main:offers/{FABRIKAM}/status.yaml"],
            cwd=self.remote, capture_output=True, check=True,
        ).stdout  # fmt: skip
        doc = yaml.safe_load(raw)
        assert isinstance(doc, dict)
        return doc

    def submitted(self) -> int:
        stats = self.emu.stats()
        product = stats["products"][FABRIKAM]
        return int(stats["submissions"].get(product, 0)) - int(
            stats["portalSubmissions"].get(product, 0)
        )


@pytest.fixture
def shards(gitrepos: GitRepos, azurite: Azurite, tmp_path: Path,
           request: pytest.FixtureRequest) -> Iterator[Shards]:  # fmt: skip
    env = azurite.env()
    trust = {k: v for k, v in env.items() if k in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")}
    with emulator(tmp_path, time_scale=request.param, env_extra=trust) as emu:
        yield Shards(gitrepos, emu, env)


def submission_of(doc: dict[str, object]) -> str:
    ref = doc.get("submission")
    assert isinstance(ref, dict), doc
    return str(ref["id"])


@pytest.mark.parametrize("shards", ["1"], indirect=True)  # real time: it stays in validation
def test_the_new_shard_adopts_a_submission_still_in_flight(shards: Shards) -> None:
    shards.reconcile(shards.a)
    before = shards.status()
    assert before["phase"] == "Validating"
    assert shards.submitted() == 1
    shards.reconcile(shards.b)  # a fresh clone: no record, no client state
    after = shards.status()
    assert shards.submitted() == 1
    assert after["phase"] == "Validating"
    assert submission_of(after) == submission_of(before)
    # B's client recorded A's submission as its own (from Partner Center, not status.yaml).
    state = json.loads((shards.b / ".git" / "offerctl" / "partnercenter.json").read_text())
    adopted = {f"{a['product']}/{a['submission']}" for a in state["attempts"]}
    assert adopted == {submission_of(after)}


@pytest.mark.parametrize("shards", ["1e7"], indirect=True)  # a week in 60 ms
def test_the_new_shard_carries_the_offer_on_to_its_target_without_submitting_again(
    shards: Shards,
) -> None:
    shards.reconcile(shards.a)
    first = submission_of(shards.status())
    for _ in range(MAX_PASSES):
        shards.reconcile(shards.b)
        if shards.status()["phase"] == "Preview":
            break
    doc = shards.status()
    assert doc["phase"] == "Preview"
    assert submission_of(doc) == first
    assert shards.submitted() == 1
