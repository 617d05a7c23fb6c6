"""A pull request's giant status.yaml is not read into `offerctl plan`'s memory.

plan compares each offer's committed status.yaml with the one it would
write, and read the blob whole: 200 MB of zeros (a few hundred KB once git
compresses it) cost 200 MB of a CI runner's memory per offer. `history`
read every past version the same way.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from git_helpers import GitRepos
from status_world import offer_files

pytestmark = pytest.mark.slow(budget=90)  # two commits of a 200 MB file

SIZE = 200 * 1024 * 1024


# The peak is measured from a small launcher, not from this test process: Linux
# counts a forked child's pre-exec image (a copy of the forking process, here a
# pytest worker that may hold 100+ MiB) in the child's ru_maxrss.
LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.execv(sys.executable, [sys.executable, "-m", "controller", *sys.argv[1:]])
_, status, usage = os.wait4(pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def _max_rss_mib(*argv: str) -> tuple[int, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFERCTL_")}
    out = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *argv],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout.split()
    return int(out[0]), int(out[1]) / 1024  # KiB on Linux


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux")
@pytest.mark.parametrize("verb", ["plan", "history"])
def test_a_giant_status_file_is_not_read(gitrepos: GitRepos, verb: str) -> None:
    repo = gitrepos.init("ci-clone", offer_files("victim-offer", "draft"))
    gitrepos.run(repo, "checkout", "-q", "-b", "pr")
    status = repo / "offers" / "victim-offer" / "status.yaml"
    with status.open("wb") as fh:
        fh.truncate(SIZE)
    gitrepos.run(repo, "add", "--", str(status))
    gitrepos.run(repo, "commit", "-q", "-m", "Big status")
    status.unlink()
    argv = (
        ["plan", "--repo", str(repo)]
        if verb == "plan"
        else ["history", "--repo", str(repo), "victim-offer"]
    )
    code, rss = _max_rss_mib(*argv)
    assert code in (0, 1), code
    assert rss < SIZE / (1024 * 1024) * 0.6, f"{verb} peaked at {rss:.0f} MiB"
