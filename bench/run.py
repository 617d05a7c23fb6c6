"""`make bench`: run every bench/bench_*.py module's `main()` in turn and summarise.

Each benchmark measures itself against a baseline in the same run and
returns 0 when it meets its goal. Add a benchmark by adding a
`bench/bench_<name>.py` with `main(argv: list[str] | None = None) -> int`.

    python bench/run.py [NAME...]      # e.g. python bench/run.py validate
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import goals  # noqa: E402 - bench/ is not a package


def main(argv: list[str] | None = None) -> int:
    wanted = set(sys.argv[1:] if argv is None else argv)
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    names = [n for n in names if not wanted or n.removeprefix("bench_") in wanted or n in wanted]
    results: dict[str, int] = {}
    for name in names:
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        module = importlib.import_module(name)
        code = module.main([])
        results[name] = int(code or 0)
        print(
            f"== {name}: {'ok' if not code else 'goal not met'}"
            f" ({time.perf_counter() - started:.0f} s)\n"
        )
    failed = [name for name, code in results.items() if code]
    if goals.RECORDED:
        print(goals.table(goals.RECORDED) + "\n")
    print(f"{len(results) - len(failed)} of {len(results)} benchmarks met their goals")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
