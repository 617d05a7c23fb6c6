"""`offerctl resume OFFER`: the commit that sets spec.suspend: false (see suspend.py)."""

from __future__ import annotations

import argparse

from controller.commands.suspend import run_resume


def run(args: argparse.Namespace) -> int:
    return run_resume(args)
