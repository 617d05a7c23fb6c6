"""Start-up: `offerctl --version`, and `offerctl validate` on one offer against check-jsonschema.

Both tools run as a user runs them (their console scripts in this venv, as new
processes) on the same shipped offer.yaml, interleaved so machine load hits
both alike. Each command runs once to warm the disk cache and write bytecode,
then REPEAT times; the fastest run counts (the least disturbed by other
processes). check-jsonschema only checks the schema; offerctl also runs its
semantic checks, so the comparison favours check-jsonschema.

Two clocks: wall time, and the CPU time (user + system) the process used.
The goals are judged on CPU time, which on an idle machine is the wall time
of these single-threaded commands, but which does not grow with the queue for
a core when the machine is shared (make bench often runs beside other jobs).
Both are printed.

Goals: `offerctl validate` on one offer at most 0.5x check-jsonschema's time,
and `offerctl --version` under 0.25 s.

    python bench/bench_startup.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BIN = Path(sys.executable).parent
OFFER = REPO / "offers" / "contoso-field-insights" / "offer.yaml"
SCHEMA = REPO / "schemas" / "offer.schema.json"

GOAL_RATIO = 0.5  # offerctl validate / check-jsonschema, one offer
GOAL_VERSION = 0.25  # seconds


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # users' installs keep bytecode; so do we
    return env


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _once(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run."""
    cpu = _cpu()
    started = time.perf_counter()
    completed = subprocess.run(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env(), check=False
    )
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(
            f"{argv[0]} exited {completed.returncode}: {completed.stderr.decode()[-500:]}"
        )
    return elapsed, _cpu() - cpu


def fastest(commands: dict[str, list[str]], repeat: int) -> dict[str, tuple[float, float]]:
    """The fastest wall and CPU time of `repeat` runs of each command, interleaved."""
    for argv in commands.values():
        _once(argv)  # warm-up
    best = dict.fromkeys(commands, (float("inf"), float("inf")))
    for _ in range(repeat):
        for name, argv in commands.items():
            wall, cpu = _once(argv)
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of each command")
    args = parser.parse_args(argv)
    times = fastest(
        {
            "offerctl --version": [str(BIN / "offerctl"), "--version"],
            "offerctl validate": [str(BIN / "offerctl"), "validate", str(OFFER)],
            "check-jsonschema": [
                str(BIN / "check-jsonschema"),
                "--schemafile",
                str(SCHEMA),
                str(OFFER),
            ],
        },
        args.repeat,
    )
    print(f"fastest of {args.repeat} runs each:")
    for name, (wall, cpu) in times.items():
        print(f"  {name:<20} wall {wall:6.3f} s  cpu {cpu:6.3f} s")
    wall_ratio = times["offerctl validate"][0] / times["check-jsonschema"][0]
    print(f"validate / check-jsonschema: wall {wall_ratio:.2f}x", end="  ")
    ratio = times["offerctl validate"][1] / times["check-jsonschema"][1]
    print(f"cpu {ratio:.2f}x")
    version = times["offerctl --version"][1]
    ratio_met = ratio <= GOAL_RATIO
    version_met = version < GOAL_VERSION
    print(
        f"goal: validate one offer <= {GOAL_RATIO}x check-jsonschema (cpu): "
        f"{'met' if ratio_met else 'NOT met'} ({ratio:.2f}x)"
    )
    print(
        f"goal: offerctl --version < {GOAL_VERSION} s (cpu): "
        f"{'met' if version_met else 'NOT met'} ({version:.3f} s)"
    )
    return 0 if ratio_met and version_met else 1


if __name__ == "__main__":
    sys.exit(main())
