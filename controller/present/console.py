"""The rich Console every view prints through: colour on a terminal, plain text when piped.

`color` is `auto` (styles only when the stream is a terminal; no colour when
NO_COLOR is set), `always` (styles even into a pipe, for `less -R`) or
`never` (plain text). Plain output is also never wrapped at the terminal's
width, so `grep` and `awk` see one row per line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import IO

from rich.console import Console, RenderableType

COLOR_CHOICES = ("auto", "always", "never")
PLAIN_WIDTH = 4096  # plain output: wide enough that no table row or message wraps


def no_color_requested(env: Mapping[str, str]) -> bool:
    """NO_COLOR (https://no-color.org): present and not empty means no colour."""
    return bool(env.get("NO_COLOR"))


def make_console(
    color: str = "auto",
    *,
    file: IO[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Console:
    """A console for `file` (default stdout) under the `color` choice and the environment."""
    env = os.environ if env is None else env
    stream = file if file is not None else sys.stdout
    if color != "never":
        console = Console(
            file=stream,
            force_terminal=True if color == "always" else None,  # None: rich asks the stream
            no_color=color == "auto" and no_color_requested(env),
            highlight=False,  # never guess colours for numbers and paths in messages
            emoji=False,
            markup=False,  # repository text ("[bold]x" as a folder name) is never markup
        )
        if console.is_terminal:
            return console
    return Console(
        file=stream,
        force_terminal=False,
        color_system=None,  # no escape sequences at all
        highlight=False,
        emoji=False,
        markup=False,
        width=PLAIN_WIDTH,
    )


def unicode_ok(console: Console) -> bool:
    """Whether the stream can take the progress glyphs (a C/ASCII locale cannot)."""
    return console.encoding.lower().replace("-", "").startswith("utf")


def show(console: Console, view: RenderableType | str) -> None:
    """Print a view: text as is; a renderable styled on a terminal, else without the
    trailing blanks rich pads table cells with (they upset diffs and `awk`)."""
    if isinstance(view, str):
        console.file.write(view)
        console.file.flush()
        return
    if console.is_terminal:
        console.print(view)
        return
    console.file.write(plain(console, view))
    console.file.flush()


def plain(console: Console, view: RenderableType) -> str:
    """The view as the console would print it, each line stripped of trailing blanks."""
    with console.capture() as captured:
        console.print(view)
    return "".join(line.rstrip() + "\n" for line in captured.get().splitlines())
