"""The floor of a full reconcile pass: the git and YAML work no pass can avoid.

Issue #14 defines it, on the repository the full pass reads:

1. `git ls-tree -r` of the tip (every path and blob id, no sizes);
2. one `git cat-file --batch` reading every offers/<id>/offer.yaml (and every
   signoff.yaml, when there are any);
3. a `CSafeLoader` parse of every offer.yaml;
4. one `git fast-import` writing one status blob per offer and the commit on
   top of the tip (to a scratch ref, deleted afterwards: the branch never moves).

The figure is CPU time: this process plus its git children. The reconcile
bench measures the floor of its own repository in a child process
(`measure_floor_apart`, which runs `--repo`), so that the floor's memory (it
holds every manifest at once) never counts in the controller's peak RSS, and
judges the full pass as a multiple of it.

    python bench/bench_floor.py [--offers N]
    python bench/bench_floor.py --repo PATH --json   # an existing repository's floor
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gen_offers import generate  # noqa: E402

SCRATCH_REF = "refs/offerctl-bench/floor"
# A status.yaml of the size the controller writes for a healthy in-flight offer.
_STATUS = (
    "# Written by offerctl. Edits here are overwritten.\n"
    "offer: {offer}\n"
    "observedGeneration: sha256:{digest}\n"
    "observedCommit: {commit}\n"
    "target: preview\n"
    "phase: Certifying\n"
    "conditions:\n"
    "- type: Valid\n  status: 'True'\n  reason: Validated\n  message: all checks passed\n"
    "  lastTransitionTime: '2026-01-01T00:00:00Z'\n"
    "- type: Ready\n  status: 'False'\n  reason: InProgress\n  message: certification running\n"
    "  lastTransitionTime: '2026-01-01T00:00:00Z'\n"
    "stages:\n"
    "- name: Validation\n  state: Succeeded\n  startedAt: '2026-01-01T00:00:00Z'\n"
    "  finishedAt: '2026-01-01T00:00:01Z'\n"
    "- name: Certification\n  state: Running\n  startedAt: '2026-01-01T00:00:01Z'\n"
    "submission:\n  id: sub-{digest8}\n  generation: sha256:{digest}\n"
    "  idempotencyKey: {offer}-{digest8}\n  target: preview\n"
    "feedback: []\n"
)


@dataclass(frozen=True)
class Floor:
    """What the floor did and what it cost."""

    offers: int
    cpu_s: float
    wall_s: float


def cpu_seconds() -> float:
    """CPU time of this process and its waited-for children so far, to the microsecond
    (`os.times` counts 10 ms clock ticks: a quarter of a 1,000-offer bare observation)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _git_env() -> dict[str, str]:
    return {
        **os.environ,
        "GIT_AUTHOR_NAME": "Bench Person",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench Person",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }


def git(repo: Path, *args: str, data: bytes | None = None) -> bytes:
    """Run git in `repo` as the bench person, with no user or system config; its stdout."""
    done = subprocess.run(
        ["git", *args], cwd=repo, env=_git_env(), input=data, capture_output=True, check=True
    )
    return done.stdout


def _read_batch(repo: Path, oids: list[str]) -> list[bytes]:
    """Every blob in `oids`, in order, through one `git cat-file --batch`."""
    out = git(repo, "cat-file", "--batch", data="".join(f"{o}\n" for o in oids).encode())
    blobs: list[bytes] = []
    at = 0
    for _ in oids:
        end = out.index(b"\n", at)
        size = int(out[at:end].rsplit(b" ", 1)[1])
        blobs.append(out[end + 1 : end + 1 + size])
        at = end + 1 + size + 1  # the blob, then its trailing newline
    return blobs


def measure_floor(repo: Path, tip: str = "HEAD") -> Floor:
    """Run the floor's four steps on `repo` at `tip`; CPU and wall seconds."""
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    commit = git(repo, "rev-parse", "--verify", f"{tip}^{{commit}}").decode().strip()
    listing = git(repo, "ls-tree", "-r", "-z", commit)
    manifests: list[tuple[str, str]] = []  # (offer, blob id)
    others: list[str] = []
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, raw_path = entry.partition(b"\t")
        path = raw_path.decode("utf-8", "surrogateescape")
        parts = path.split("/")
        if len(parts) != 3 or parts[0] != "offers":
            continue
        oid = meta.split()[2].decode()
        if parts[2] == "offer.yaml":
            manifests.append((parts[1], oid))
        elif parts[2] == "signoff.yaml":
            others.append(oid)
    blobs = _read_batch(repo, [oid for _, oid in manifests] + others)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for data in blobs[: len(manifests)]:
        yaml.load(data, Loader=loader)  # noqa: S506 - CSafeLoader is a safe loader
    stream = [f"commit {SCRATCH_REF}\n", "committer Bench <bench@example.com> 0 +0000\n"]
    message = "status: floor\n"
    stream += [f"data {len(message)}\n{message}", f"from {commit}\n"]
    for offer, oid in manifests:
        text = _STATUS.format(offer=offer, digest=oid * 2, digest8=oid[:8], commit=commit)
        body = text.encode("utf-8")
        stream.append(f"M 100644 inline offers/{offer}/status.yaml\ndata {len(body)}\n")
        stream.append(text + "\n")
    stream.append("\n")
    git(repo, "fast-import", "--quiet", "--force", data="".join(stream).encode("utf-8"))
    floor = Floor(len(manifests), cpu_seconds() - cpu0, time.perf_counter() - wall0)
    git(repo, "update-ref", "-d", SCRATCH_REF)
    return floor


def measure_floor_apart(repo: Path) -> Floor:
    """`measure_floor` of `repo` in a child process (its CPU, as the child measured it)."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--repo", str(repo), "--json"],
        capture_output=True,
        check=True,
        text=True,
    )
    found = json.loads(done.stdout)
    return Floor(int(found["offers"]), float(found["cpu_s"]), float(found["wall_s"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--offers", type=int, default=1_000)
    parser.add_argument("--repo", type=Path, help="measure this repository's floor instead")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.repo is not None:
        floor = measure_floor(args.repo)
        if args.json:
            figures = {"offers": floor.offers, "cpu_s": floor.cpu_s, "wall_s": floor.wall_s}
            print(json.dumps(figures))
        else:
            print(f"floor: {floor.offers:,} offers: {floor.cpu_s:.2f} s CPU ({floor.wall_s:.2f} s)")
        return 0
    with tempfile.TemporaryDirectory(prefix="offerctl-floor-") as tmp:
        repo = Path(tmp)
        git(repo, "init", "-q", "-b", "main")
        git(repo, "config", "gc.auto", "0")
        generate(args.offers, repo)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "offers")
        floor = measure_floor(repo)
    print(
        f"floor: {floor.offers:,} offers: {floor.cpu_s:.2f} s CPU ({floor.wall_s:.2f} s wall); "
        "the reconcile bench judges a full pass against this"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
