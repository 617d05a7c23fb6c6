"""`offerctl validate` against check-jsonschema on the same generated offers.

For each size (1,000 and 10,000 by default) this generates valid offers into
a temporary repository, times `offerctl validate` over the whole offers/
folder, then `check-jsonschema --schemafile schemas/offer.schema.json` over
the same offer.yaml files, and prints both times and the ratio. Note the
comparison favours check-jsonschema: it only checks the schema, while
offerctl also runs every semantic check (folder names, ids across the repo,
PNG headers of every logo and screenshot, links, markets, HTML, secrets).

Goal: offerctl at least 5x faster at 10,000 offers.

    python bench/bench_validate.py [--sizes 1000,10000] [--no-baseline]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from gen_offers import generate  # noqa: E402 - bench/ is not a package

GOAL_SIZE = 10_000
GOAL_RATIO = 5.0


def _timed(argv: list[str]) -> float:
    started = time.perf_counter()
    completed = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(
            f"{argv[0]} exited {completed.returncode}: {completed.stderr.decode()[-500:]}"
        )
    return elapsed


def measure(size: int, baseline: bool) -> float | None:
    """Print one result line; return the speed-up ratio (None without a baseline)."""
    with tempfile.TemporaryDirectory(prefix="offerctl-bench-") as tmp:
        root = Path(tmp)
        manifests = generate(size, root)
        ours = _timed(
            [sys.executable, "-m", "controller", "validate", "--repo", str(root), "-o", "json"]
        )
        line = f"{size:>6} offers  offerctl validate {ours:7.2f} s"
        ratio = None
        if baseline:
            tool = Path(sys.executable).parent / "check-jsonschema"
            schema = REPO / "schemas" / "offer.schema.json"
            theirs = _timed([str(tool), "--schemafile", str(schema), *map(str, manifests)])
            ratio = theirs / ours
            line += f"  check-jsonschema {theirs:7.2f} s  ratio {ratio:5.1f}x"
        print(line, flush=True)
        return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated offer counts")
    parser.add_argument("--no-baseline", action="store_true", help="skip check-jsonschema")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    print(
        "validate: offerctl (schema + semantic checks + assets) vs check-jsonschema (schema only)"
    )
    ratios = {size: measure(size, not args.no_baseline) for size in sizes}
    goal = ratios.get(GOAL_SIZE)
    if goal is None:
        return 0
    verdict = "met" if goal >= GOAL_RATIO else "NOT met"
    print(f"goal: >= {GOAL_RATIO:.0f}x at {GOAL_SIZE:,} offers: {verdict} ({goal:.1f}x)")
    return 0 if goal >= GOAL_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
