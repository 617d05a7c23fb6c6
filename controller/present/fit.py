"""Tables that fit the terminal by wrapping, never by dropping a column or cutting a word.

rich's own Table, when a row is wider than the terminal, shrinks columns
until cells end in "…" and narrow columns vanish: at 80 columns the detailed
view of a rejected offer lost its SEVERITY and MESSAGE columns and cut file
names. A `FitTable` chooses its layout at render time, for the width it gets:

1. everything fits on one line per row: the plain borderless table (what
   piped output, 4096 columns wide, always gets, so `grep` and `awk` work);
2. every column fits its longest word (file names, paths and codes are one
   word) with two spaces between columns, or else one: the same table, each
   column at least that wide and cells wrapped at spaces inside it;
3. otherwise, stacked: each row as `HEADER  value` lines, values wrapped to the
   full width, a word longer than a line broken after a `/` where it can be.

Every column header appears in every layout, and no character of a cell is
ever replaced by an ellipsis.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

HEADER_STYLE = "bold"


class FitTable:
    """A borderless table with a header row; `add_row` as on rich's Table."""

    def __init__(self, *headers: str) -> None:
        self.headers = tuple(headers)
        self.rows: list[tuple[Text, ...]] = []

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def add_row(self, *cells: str | Text) -> None:
        if len(cells) != len(self.headers):
            raise ValueError(f"{len(cells)} cells for {len(self.headers)} columns")
        self.rows.append(tuple(c if isinstance(c, Text) else Text(c) for c in cells))

    # -- measuring ------------------------------------------------------------------------

    def natural_widths(self) -> list[int]:
        """Each column's width with no cell wrapped."""
        return [
            max([_longest_line(h), *(_longest_line(r[i].plain) for r in self.rows)])
            for i, h in enumerate(self.headers)
        ]

    def word_widths(self) -> list[int]:
        """Each column's narrowest width that wraps cells only at spaces (their longest
        word) and keeps its header on one line."""
        return [
            max([cell_len(h), *(_longest_word(r[i].plain) for r in self.rows)])
            for i, h in enumerate(self.headers)
        ]

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        natural = self.natural_widths()
        total = sum(natural) + 2 * max(0, len(natural) - 1)
        return Measurement(min(total, options.max_width), min(total, options.max_width))

    # -- rendering ------------------------------------------------------------------------

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.layout(options.max_width)

    def layout(self, width: int) -> Table:
        """The table for `width` columns: one line per row, wrapped, or stacked."""
        natural = self.natural_widths()
        gaps = max(0, len(natural) - 1)
        if sum(natural) + 2 * gaps <= width:
            return self._table(None, gap=2)
        words = self.word_widths()
        for gap in (2, 1):
            room = width - gap * gaps
            if sum(words) <= room:
                return self._table(_share(room, words, natural), gap=gap)
        return self._stacked(width)

    def _table(self, widths: Sequence[int] | None, *, gap: int) -> Table:
        table = Table(
            box=None,
            pad_edge=False,
            show_edge=False,
            header_style=HEADER_STYLE,
            padding=(0, 1) if gap == 2 else (0, 1, 0, 0),
        )
        for index, header in enumerate(self.headers):
            if widths is None:
                table.add_column(header, no_wrap=True)
            else:
                table.add_column(header, width=widths[index], overflow="fold")
        for row in self.rows:
            table.add_row(*row)
        return table

    def _stacked(self, width: int) -> Table:
        shown = [i for i, h in enumerate(self.headers) if h]  # "" headers: glyph columns
        label = max((cell_len(self.headers[i]) for i in shown), default=0)
        room = max(1, width - label - 2)
        table = Table(box=None, show_header=False, pad_edge=False, show_edge=False)
        table.add_column(style=HEADER_STYLE, width=label, overflow="fold")
        table.add_column(overflow="fold", width=room)
        for number, row in enumerate(self.rows):
            if number:
                table.add_row("", "")
            for i in shown:
                table.add_row(self.headers[i], break_long_words(row[i], room))
        return table


def _share(room: int, least: Sequence[int], most: Sequence[int]) -> list[int]:
    """Widths from `least` up toward `most`: the columns that lack least are made whole
    first (a short cell is better unwrapped), the rest goes to the widest text."""
    widths = list(least)
    extra = room - sum(widths)
    for index in sorted(range(len(widths)), key=lambda i: most[i] - least[i]):
        grant = min(extra, most[index] - widths[index])
        widths[index] += grant
        extra -= grant
    return widths


def _longest_line(text: str) -> int:
    return max((cell_len(line) for line in text.split("\n")), default=0)


def _longest_word(text: str) -> int:
    return max((cell_len(word) for word in text.split()), default=0)


def break_long_words(text: Text, width: int) -> Text:
    """`text` with a line break after a `/` (or `.`, `-`) inside each word longer than `width`.

    rich wraps at spaces and folds what is longer at the last column that fits;
    a path folded after a `/` stays readable and every character is kept.
    """
    if width < 8 or all(cell_len(w) <= width for w in text.plain.split()):
        return text
    offsets: list[int] = []
    plain = text.plain
    for start, word in _words(plain):
        position = 0
        while len(word) - position > width:
            cut = _cut(word, position, width)
            offsets.append(start + cut)
            position = cut
    if not offsets:
        return text
    pieces = text.divide(offsets)
    return Text("\n").join(pieces)


def _words(plain: str) -> Iterable[tuple[int, str]]:
    index = 0
    for word in plain.split(" "):
        yield index, word
        index += len(word) + 1


def _cut(word: str, start: int, width: int) -> int:
    """Where to break `word[start:]`: after the last separator that fits, else at `width`."""
    window = word[start : start + width]
    for separators in ("/", ".-_"):
        best = max(window.rfind(s) for s in separators)
        if best >= width // 3:
            return start + best + 1
    return start + width
