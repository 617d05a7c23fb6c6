"""`offerctl demo`: unpacks the command line and runs `controller.demo.story.run_demo`."""

from __future__ import annotations

import argparse
from pathlib import Path

from controller.demo.story import run_demo


def run(args: argparse.Namespace) -> int:
    workdir: Path | None = args.workdir
    return run_demo(
        workdir=workdir,
        time_scale=float(args.time_scale),
        timeout=float(args.timeout),
        keep=bool(args.keep),
    )
