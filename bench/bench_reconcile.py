"""Reconcile at scale: 1,000 and 10,000 offers in one git repository, simulated marketplace.

The reconciler is the one `offerctl reconcile` runs (`build_reconciler`: the
real validation with its verdict cache, sign-offs judged from git history).
Times four passes over the same repository:
- full: the first pass, which validates, submits and commits status for every offer;
- settle: passes that poll the offers still in flight until none is (reported, not judged);
- no-op: nothing changed in git and nothing is in flight;
- one offer changed: a commit edits one manifest; only that offer is evaluated.

Goals (bench/goals.py), at each size:
- the full pass costs at most 3x the floor in CPU (bench/bench_floor.py, measured
  on the same repository in the same run; CPU of this process and its git children);
- the one-offer pass is at least 50x cheaper than the full pass (wall);
- peak memory, this process and the largest git child, under 300 MB
  (400 MB for the 50,000-offer run behind `--huge`).

    python bench/bench_reconcile.py                 # 1,000 then 10,000 offers
    python bench/bench_reconcile.py --offers 1000   # one size
    python bench/bench_reconcile.py --huge          # 50,000 offers (long; run once)
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import goals  # noqa: E402 - bench/ is not a package
from bench_floor import cpu_seconds, git, measure_floor_apart  # noqa: E402
from gen_offers import generate  # noqa: E402

from controller.core.model import API_VERSION  # noqa: E402
from controller.git.repo import GitRepo  # noqa: E402
from controller.marketplace.simulated import SimulatedMarketplace  # noqa: E402
from controller.reconcile.reconciler import PassResult, Watch, build_reconciler  # noqa: E402

BENCH = "reconcile"
TIME_SCALE = 1_000_000.0  # a week of certification in 0.6 s
MIN_RATIO = 50.0
MAX_FLOOR_RATIO = 3.0
MEMORY_GOAL_MB = 300.0
HUGE_OFFERS = 50_000
HUGE_MEMORY_GOAL_MB = 400.0
DEFAULT_SIZES = (1_000, 10_000)


def _timed(
    run: Callable[[], PassResult], sampler: ChildPeak | None = None
) -> tuple[float, float, PassResult]:
    """Wall and CPU seconds (this process and its git children) of one pass, without the
    CPU `sampler`'s thread spent meanwhile reading /proc."""
    sampled = sampler.cpu_s if sampler else 0.0
    cpu, started = cpu_seconds(), time.perf_counter()
    result = run()
    spent = cpu_seconds() - cpu - ((sampler.cpu_s - sampled) if sampler else 0.0)
    return time.perf_counter() - started, spent, result


def _settle_checkout(repo_dir: Path) -> None:
    """The checkout as a person finds it a while after the passes, before their edit.

    The passes above wrote every status file into the working tree within a second or
    two, and git stores file times to the second: each file written in its index's own
    second is "racily clean", and the next index write re-reads all of them (git's
    racy-git check), a one-time cost of whichever index write comes first (the
    person's own commit or a pass's sync) that is gone a second later. The one-offer
    pass times that index write, so the files' times are set back a minute and the
    index refreshed once, as bench_onepass_git.py settles its checkouts."""
    earlier = time.time() - 60
    for folder, _, files in os.walk(repo_dir / "offers"):
        for name in files:
            os.utime(Path(folder, name), (earlier, earlier))
    git(repo_dir, "update-index", "-q", "--refresh")


def _peak() -> str:
    """This process's peak RSS so far, for the pass lines (which pass set the peak)."""
    return f"; peak {_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss):.0f} MB"


def _mb(kilobytes: int) -> float:
    return kilobytes / 1024.0


class ChildPeak:
    """The largest peak RSS (VmHWM) of any git process this process started, sampled.

    `getrusage(RUSAGE_CHILDREN)` reports the forked Python's size for a child
    that then ran git, so the git children are read from /proc while they run.
    """

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak_kb = 0
        self.peak_command = ""  # the git command that set `peak_kb`
        self.cpu_s = 0.0  # the sampling thread's own CPU: not the pass's, subtracted
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        me = str(os.getpid())
        while not self._stop.wait(self.interval):
            for proc in Path("/proc").iterdir():
                if proc.name.isdigit():
                    hwm = _git_child_hwm(proc, me)
                    if hwm > self.peak_kb:
                        self.peak_kb, self.peak_command = hwm, _command(proc)
            self.cpu_s = time.thread_time()


def _command(proc: Path) -> str:
    try:
        argv = (proc / "cmdline").read_bytes().split(b"\x00")
    except OSError:
        return ""
    return " ".join(a.decode("utf-8", "replace") for a in argv[1:] if a)[:120]


def _git_child_hwm(proc: Path, parent: str) -> int:
    try:
        fields = dict(
            line.split(":", 1) for line in (proc / "status").read_text().splitlines() if ":" in line
        )
    except OSError:
        return 0
    if fields.get("PPid", "").strip() != parent or not fields.get("Name", "").strip().startswith(
        "git"
    ):
        return 0
    return int(fields.get("VmHWM", "0 kB").split()[0])


SIGNOFF_EVERY = 10  # one offer in ten gets a signoff.yaml for the sign-off pass
SIGNOFF_HEADER = "# Go Live sign-off (bench)\n"


def _timed_signoffs(
    repo_dir: Path,
    manifests: list[Path],
    one_pass: Callable[[], PassResult],
    sampler: ChildPeak | None = None,
) -> tuple[float, float, PassResult]:
    """Merge signoff.yaml for every tenth offer (its current generation, from the status
    the passes wrote), approved by a trailer; time the pass that judges them from git."""
    for manifest in manifests[::SIGNOFF_EVERY]:
        folder = manifest.parent
        status = (folder / "status.yaml").read_text(encoding="utf-8")
        generation = next(
            line.split(":", 1)[1].strip()
            for line in status.splitlines()
            if line.startswith("observedGeneration:")
        )
        (folder / "signoff.yaml").write_text(
            f"{SIGNOFF_HEADER}apiVersion: {API_VERSION}\nkind: SignOff\n"
            f"offer: {folder.name}\ngeneration: {generation}\n",
            encoding="utf-8",
        )
    git(repo_dir, "add", "-A")
    git(
        repo_dir,
        "commit",
        "-q",
        "-m",
        "sign off\n\nApproved-by: Release Manager <release@example.com>",
    )
    return _timed(one_pass, sampler)


def bench(count: int, memory_goal_mb: float = MEMORY_GOAL_MB) -> dict[str, float]:
    """Floor, full, settle, no-op and one-offer passes over `count` generated offers."""
    with tempfile.TemporaryDirectory(prefix="offerctl-bench-") as tmp:
        repo_dir = Path(tmp) / "repo"
        repo_dir.mkdir()
        git(repo_dir, "init", "-q", "-b", "main")
        git(repo_dir, "config", "gc.auto", "0")  # a background gc would skew the timings
        started = time.perf_counter()
        manifests = generate(count, repo_dir)
        git(repo_dir, "add", "-A")
        git(repo_dir, "commit", "-q", "-m", f"{count} offers")
        print(
            f"  generated and committed {count:,} offers in {time.perf_counter() - started:.1f} s"
        )
        floor = measure_floor_apart(repo_dir)  # its memory is not the controller's
        print(f"  floor:            {floor.wall_s:8.2f} s  ({floor.cpu_s:.2f} s CPU)")
        market = SimulatedMarketplace(Path(tmp) / "market.sqlite3", time_scale=TIME_SCALE)

        def one_pass() -> PassResult:
            with GitRepo(repo_dir) as repo:
                reconciler = build_reconciler(
                    repo, market, Watch(), clock=lambda: datetime.now(UTC)
                )
                return reconciler.run_pass()

        sampler = ChildPeak()
        sampler.start()
        full_s, full_cpu, full = _timed(one_pass, sampler)
        print(
            f"  full pass:        {full_s:8.2f} s  ({full_cpu:.2f} s CPU; "
            f"{len(full.evaluated):,} evaluated, "
            f"{len(full.written):,} written, {len(full.in_flight):,} in flight){_peak()}"
        )
        # Only the count is kept: a pass's result holds every offer's status, which is the
        # bench's memory, not the controller's (the daemon keeps no result across passes).
        flying = len(full.in_flight)
        del full
        for _ in range(6):
            if not flying:
                break
            time.sleep(1.0)  # at this time scale the pipeline moves on within a second
            settle_s, settle_cpu, settled = _timed(one_pass, sampler)
            flying = len(settled.in_flight)
            print(
                f"  settle pass:      {settle_s:8.2f} s  ({settle_cpu:.2f} s CPU; "
                f"{len(settled.evaluated):,} evaluated, {flying:,} still in flight)"
                f"{_peak()}"
            )
            del settled
        noop_s, noop_cpu, noop = _timed(one_pass, sampler)
        print(
            f"  no-op pass:       {noop_s:8.2f} s  ({noop_cpu:.2f} s CPU; "
            f"{len(noop.evaluated):,} evaluated, commit: {noop.commit is not None}){_peak()}"
        )
        _settle_checkout(repo_dir)
        manifest = manifests[count // 2]
        text = manifest.read_text(encoding="utf-8")
        manifest.write_text(text.replace("    alias: ", "    alias: Changed ", 1), "utf-8")
        git(repo_dir, "commit", "-q", "-am", "change one offer")
        one_s, one_cpu, one = _timed(one_pass, sampler)
        print(
            f"  one-offer pass:   {one_s:8.2f} s  ({one_cpu:.2f} s CPU; "
            f"{len(one.evaluated):,} evaluated, {len(one.written):,} written){_peak()}"
        )
        signoff_s, signoff_cpu, signed = _timed_signoffs(repo_dir, manifests, one_pass, sampler)
        print(
            f"  sign-off pass:    {signoff_s:8.2f} s  ({signoff_cpu:.2f} s CPU; "
            f"{len(signed.evaluated):,} offers with a new signoff.yaml judged from git history)"
            f"{_peak()}"
        )
        sampler.stop()
    ratio = full_s / one_s if one_s > 0 else float("inf")
    floor_ratio = full_cpu / floor.cpu_s if floor.cpu_s > 0 else float("inf")
    own = _mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    children = _mb(sampler.peak_kb)
    print(
        f"  peak memory:      {own:8.1f} MB  (largest git child {children:.1f} MB, "
        f"`{sampler.peak_command}`; goal < {memory_goal_mb:.0f} MB each)"
    )
    results = [
        goals.goal(BENCH, "full pass / floor (CPU)", floor_ratio, MAX_FLOOR_RATIO, offers=count),
        goals.goal(
            BENCH,
            "full pass / one-offer pass (wall)",
            ratio,
            MIN_RATIO,
            offers=count,
            at_least=True,
        ),
        goals.goal(BENCH, "peak RSS, controller", own, memory_goal_mb, offers=count, unit="MB"),
        goals.goal(
            BENCH,
            "peak RSS, largest git child",
            children,
            memory_goal_mb,
            offers=count,
            unit="MB",
        ),
    ]
    return {
        "full": full_s,
        "full_cpu": full_cpu,
        "floor_cpu": floor.cpu_s,
        "floor_ratio": floor_ratio,
        "noop": noop_s,
        "noop_cpu": noop_cpu,
        "one": one_s,
        "one_cpu": one_cpu,
        "ratio": ratio,
        "peak_mb": own,
        "git_peak_mb": children,
        "failed": float(sum(not g.met for g in results)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument(
        "--offers", type=int, action="append", help="a size to run (repeatable; default 1k, 10k)"
    )
    sizes.add_argument(
        "--huge",
        action="store_true",
        help=f"{HUGE_OFFERS:,} offers within {HUGE_MEMORY_GOAL_MB:.0f} MB (long: run it once)",
    )
    args = parser.parse_args(argv)
    counts = [HUGE_OFFERS] if args.huge else (args.offers or list(DEFAULT_SIZES))
    memory = HUGE_MEMORY_GOAL_MB if args.huge else MEMORY_GOAL_MB
    failed = 0
    for count in counts:
        print(f"reconcile: {count:,} offers, time scale {TIME_SCALE:,.0f}", flush=True)
        failed += int(bench(count, memory)["failed"])
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
