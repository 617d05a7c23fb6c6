"""The `offerctl` command line: the composition root, and the only module that imports everything.

Each verb lives in `controller/commands/<verb>.py` and exposes
`register(subparsers) -> None`, which adds its parser and sets `func` to a
`run(args) -> int`. Errors raised as `OfferctlError` become a one-line message
on stderr and their exit code; nothing prints a traceback at a user.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from controller import __version__
from controller.errors import EXIT_USAGE, OfferctlError, exit_code_for

# Verbs in the order `offerctl --help` lists them; one module each under controller/commands/.
COMMANDS: tuple[str, ...] = (
    "validate",
    "reconcile",
    "run",
    "status",
    "plan",
    "signoff",
    "history",
    "import_",
    "diff",
    "marketplace",
    "demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="offerctl",
        description="GitOps controller for commercial-marketplace offers.",
    )
    parser.add_argument("--version", action="version", version=f"offerctl {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"controller.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"controller.commands.{name}":
                continue  # verb not built yet
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except OfferctlError as exc:
        print(f"offerctl: error: {exc}", file=sys.stderr)
        return exit_code_for(exc)
    except KeyboardInterrupt:
        return 130
