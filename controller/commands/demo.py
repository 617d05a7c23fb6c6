"""`offerctl demo`: unpacks the command line and runs `controller.demo.story.run_demo`."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from controller.demo.story import run_demo


def run(args: argparse.Namespace) -> int:
    workdir: Path | None = args.workdir
    screenshot: Path | None = args.screenshot
    with contextlib.ExitStack() as stack:
        shots = None
        if screenshot is not None:
            from controller.commands.screenshot import Screenshots  # noqa: PLC0415 - Playwright

            # Started first: a missing browser stops the demo before it does anything.
            shots = stack.enter_context(Screenshots())
        return run_demo(
            workdir=workdir,
            time_scale=float(args.time_scale),
            timeout=float(args.timeout),
            keep=bool(args.keep),
            screenshot=screenshot,
            shots=shots,
        )
