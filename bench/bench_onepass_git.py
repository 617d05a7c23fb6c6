"""The git side of a one-offer pass: 10,000 offers must cost about what 100 do.

A one-offer pass reads one offer from the tip (`snapshot` of one folder, its
blobs through the batch reader), commits its status (`write_commit`), moves
the branch (compare-and-swap) and records the reconciled commit. Each of these
must cost O(changed): the repository's size may only show in the folders on
the changed path. Repositories are made with one `git fast-import` (N offers,
each an offer.yaml and a status.yaml) and checked out; the pass runs in this
process, `--repeat` times per size, and the median CPU time (this process plus
its git children) is compared.

Two places a pass runs are judged apart:
- the controller's own clone (the daemon with `--remote`, as deploy/ runs it):
  the branch is not checked out there, so no index is touched;
- a person's checkout (`offerctl reconcile` where the branch is checked out):
  the pass also brings the status file into the person's index and working
  tree (`sync_checked_out`). Git reads and rewrites the whole index for that,
  as it does for a `git add` of one file: at 10,000 offers (20,000 entries)
  that is about 12 ms of git's own CPU that no caller can avoid without
  changing the person's index format (index v4, split index).

For contrast the old writer (read-tree of the whole base, update-index,
write-tree) is timed on the same repositories, and reported, not judged.

    python bench/bench_onepass_git.py [--small 100] [--large 10000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import goals  # noqa: E402 - bench/ is not a package
from bench_floor import cpu_seconds  # noqa: E402

from controller.git.names import blob_oid  # noqa: E402
from controller.git.repo import GitRepo, Identity  # noqa: E402
from controller.reconcile.land import moved_paths  # noqa: E402

GOAL_RATIO = 1.5  # one-offer pass at the large size / at the small size, CPU time
OFFER_YAML = b"apiVersion: offers.marketplace/v1\nkind: Offer\n" + b"# padding\n" * 80
STATUS_YAML = b"apiVersion: offers.marketplace/v1\nkind: OfferStatus\nphase: Live\n" * 4


def _env() -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
        "GIT_AUTHOR_NAME": "Bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }


def _git(repo: Path, *args: str, stdin: bytes | None = None, index: str = "") -> str:
    env = _env() | ({"GIT_INDEX_FILE": index} if index else {})
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, input=stdin, capture_output=True, check=True
    )
    return done.stdout.decode()


def make_repo(root: Path, count: int) -> Path:
    """`count` offers in one commit on main (one fast-import), checked out, as a checkout
    a person has had for a while: its files older than its index.

    A checkout timed in the second it was written is not that. Git stores file times to
    the second, so every file written in the index's own second is "racily clean", and
    the next index write re-reads all of them (git's racy-git check): a one-time cost
    of any tool's first index write, 40 ms at 10,000 offers, gone a second later.
    Setting the files' times back a minute and refreshing the index once settles it."""
    repo = root / f"repo-{count}"
    _git(root, "init", "-q", "-b", "main", str(repo))
    _git(repo, "config", "gc.auto", "0")
    stream = bytearray()
    for data in (OFFER_YAML, STATUS_YAML):
        stream += b"blob\nmark :%d\ndata %d\n%s\n" % (
            1 if data is OFFER_YAML else 2,
            len(data),
            data,
        )
    stream += (
        b"commit refs/heads/main\ncommitter Bench <bench@example.com> 0 +0000\ndata 6\noffers\n"
    )
    for i in range(count):
        stream += b"M 100644 :1 offers/offer-%05d/offer.yaml\n" % i
        stream += b"M 100644 :2 offers/offer-%05d/status.yaml\n" % i
    stream += b"done\n"
    _git(repo, "fast-import", "--quiet", "--done", stdin=bytes(stream))
    _git(repo, "reset", "-q", "--hard", "main")
    earlier = time.time() - 60
    for folder, _, files in os.walk(repo / "offers"):
        for name in files:
            os.utime(Path(folder, name), (earlier, earlier))
    _git(repo, "update-index", "-q", "--refresh")
    return repo


def one_offer_pass(repo_dir: Path, offer: str, serial: int, *, checkout: bool = True) -> None:
    """One offer's pass; `checkout` brings the status file into the person's checkout,
    which must have main checked out (else main must not be checked out)."""
    status_path = f"offers/{offer}/status.yaml"
    reconciled, judged = GitRepo.reconciled_ref("main"), GitRepo.judged_ref("main")
    with GitRepo(repo_dir) as repo:
        # As a pass reads them: the branch and its two records with one for-each-ref.
        refs = repo.resolve_refs(["refs/heads/main", reconciled, judged])
        base = refs["refs/heads/main"]
        if base is None:
            raise SystemExit("bench repository has no main")
        snapshot = repo.snapshot(base, [offer])
        for entry in snapshot.entries.values():
            repo.read_blob(entry.oid)
        data = STATUS_YAML + b"observedAt: %d\n" % serial
        commit = repo.write_commit(base, {status_path: data}, "status", Identity(), when=serial)
        if commit is None:
            raise SystemExit("the bench pass made no commit")
        # As `land` does: the sync is planned before the branch moves, from the changes
        # the pass made (not asked of git again), and carried out after.
        changes = {status_path: blob_oid(data)}
        plan = repo.plan_checkout_sync(
            "main", base, commit, changes, known=moved_paths(snapshot, changes)
        )
        repo.update_ref("refs/heads/main", commit, base, "offerctl: status")
        synced = repo.apply_checkout_sync(plan, commit)
        if synced != ([status_path] if checkout else []):
            raise SystemExit(f"the checkout sync wrote {synced} (checkout: {checkout})")
        repo.record_reconciled_refs({judged: refs[judged], reconciled: refs[reconciled]}, commit)


def old_writer(repo_dir: Path, offer: str, serial: int) -> None:
    """What write_commit did before: the whole base tree through a private index."""
    data = STATUS_YAML + b"old: %d\n" % serial
    oid = _git(repo_dir, "hash-object", "-w", "--stdin", stdin=data).strip()
    assert oid == blob_oid(data)
    index = str(repo_dir / ".git" / "bench-index")
    _git(repo_dir, "read-tree", "main", index=index)
    record = f"100644 {oid}\toffers/{offer}/status.yaml\0".encode()
    _git(repo_dir, "update-index", "-z", "--index-info", stdin=record, index=index)
    _git(repo_dir, "write-tree", index=index)


def median_cost(run: Callable[[int], None], repeat: int) -> tuple[float, float]:
    """Median CPU and wall seconds of `run(i)` over `repeat` runs (after one warm-up)."""
    run(0)
    cpu: list[float] = []
    wall: list[float] = []
    for i in range(1, repeat + 1):
        c, w = cpu_seconds(), time.perf_counter()
        run(i)
        cpu.append(cpu_seconds() - c)
        wall.append(time.perf_counter() - w)
    return statistics.median(cpu), statistics.median(wall)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    places = {"checkout": "a person's checkout", "clone": "the controller's clone"}
    costs: dict[tuple[str, int], float] = {}
    old: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="offerctl-bench-git-") as tmp:
        for count in (args.small, args.large):
            started = time.perf_counter()
            repo = make_repo(Path(tmp), count)
            made = time.perf_counter() - started
            offer = f"offer-{count // 2:05d}"
            for place in places:
                if place == "clone":  # main no longer checked out: no index to bring along
                    _git(repo, "checkout", "-q", "--detach")
                checkout = place == "checkout"
                costs[place, count] = median_cost(
                    lambda i: one_offer_pass(repo, offer, i, checkout=checkout),  # noqa: B023
                    args.repeat,
                )[0]
            old[count] = median_cost(lambda i: old_writer(repo, offer, i), args.repeat)[0]  # noqa: B023
            print(
                f"  {count:>6,} offers (made in {made:.1f} s): one-offer pass "
                + ", ".join(
                    f"{costs[p, count] * 1000:.1f} ms cpu in {w}" for p, w in places.items()
                )
                + f"; old read-tree/write-tree writer alone {old[count] * 1000:.1f} ms cpu"
            )
    old_ratio = old[args.large] / max(old[args.small], 1e-9)
    print(f"  the old read-tree/write-tree writer alone: {old_ratio:.2f}x (not judged)")
    met = True
    for place, where in places.items():
        ratio = costs[place, args.large] / max(costs[place, args.small], 1e-9)
        met &= goals.goal(
            "onepass_git",
            f"one-offer pass in {where} (git, in-process cpu) vs {args.small:,} offers",
            ratio,
            GOAL_RATIO,
            offers=args.large,
        ).met
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
