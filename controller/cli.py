"""The `offerctl` command line: the composition root, and the only module that imports everything.

Each verb runs from `controller/commands/<verb>.py` (`run(args) -> int`); its
name, help and options are in `controller.commands.options.VERBS`, so building
the parser imports no verb: `--version` and `--help` stay fast, and a verb's
libraries load only when that verb runs. Errors raised as `OfferctlError`
become a one-line message on stderr and their exit code; so does an `OSError`
from the machine (a full disk, a read-only filesystem), through
`errors.from_os_error`; nothing prints a traceback at a user. When the reader
of our output goes away (`offerctl status | head -1`) the command ends quietly.

Everything a command prints goes through `escaping.EscapingStream`, installed
here once for stdout and stderr: text from the repository (folder names,
manifest fields, paths) can carry bidi overrides or terminal escapes, and no
view has to remember to escape it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TextIO, cast

from controller import __version__
from controller.commands import options
from controller.core.errors import EXIT_USAGE, OfferctlError, exit_code_for, from_os_error
from controller.core.escaping import EscapingStream

# Verbs in the order `offerctl --help` lists them; one module each under controller/commands/.
COMMANDS: tuple[str, ...] = tuple(verb.name for verb in options.VERBS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="offerctl",
        description="GitOps controller for commercial-marketplace offers.",
    )
    parser.add_argument("--version", action="version", version=f"offerctl {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    options.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    with _escaped_output():
        try:
            code = _main(argv)
            sys.stdout.flush()  # a closed pipe shows up here for buffered output
        except BrokenPipeError as exc:
            _silence_stdout()
            return exit_code_for(exc)
        return code


@contextmanager
def _escaped_output() -> Iterator[None]:
    """stdout and stderr escape unsafe characters while a command runs."""
    out, err = sys.stdout, sys.stderr
    sys.stdout = cast(TextIO, EscapingStream(out))
    sys.stderr = cast(TextIO, EscapingStream(err))
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err


def _main(argv: Sequence[str] | None) -> int:
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
        return _fail(exc)
    except BrokenPipeError:
        raise
    except OSError as exc:  # the machine, not the user: full disk, read-only filesystem
        return _fail(from_os_error(exc))
    except KeyboardInterrupt:
        return 130


def _fail(error: OfferctlError) -> int:
    print(f"offerctl: error: {error}", file=sys.stderr)
    return exit_code_for(error)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush has nowhere to fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a real file (captured in a test)
        pass
