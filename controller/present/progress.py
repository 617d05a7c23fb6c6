"""Stage progress at a glance: one glyph per stage, then stages done over stages that will run.

    ●●◐○○○ 2/6    Validation and Certification done, Packaging running
    ●●●··· 3/3    target preview: the last three stages are skipped
    ●✗○○○○ 1/6    Certification failed

Skipped stages do not count toward the total: a preview target is complete
at 3/3. Where the stream cannot show these glyphs, ASCII stands in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text

from controller.core.model import StageState, StageStatus

UNICODE_GLYPHS: dict[StageState, str] = {
    StageState.SUCCEEDED: "●",
    StageState.RUNNING: "◐",
    StageState.PENDING: "○",
    StageState.FAILED: "✗",
    StageState.SKIPPED: "·",
}
ASCII_GLYPHS: dict[StageState, str] = {
    StageState.SUCCEEDED: "#",
    StageState.RUNNING: ">",
    StageState.PENDING: ".",
    StageState.FAILED: "x",
    StageState.SKIPPED: "-",
}
STATE_STYLES: dict[StageState, str] = {
    StageState.SUCCEEDED: "green",
    StageState.RUNNING: "cyan",
    StageState.PENDING: "dim",
    StageState.FAILED: "bold red",
    StageState.SKIPPED: "dim",
}


@dataclass(frozen=True, slots=True)
class Progress:
    states: tuple[StageState, ...]

    @property
    def done(self) -> int:
        return sum(1 for s in self.states if s is StageState.SUCCEEDED)

    @property
    def total(self) -> int:
        return sum(1 for s in self.states if s is not StageState.SKIPPED)

    def plain(self, *, unicode: bool = True) -> str:
        return self.text(unicode=unicode).plain

    def text(self, *, unicode: bool = True) -> Text:
        """Styled glyphs and the count; `-` when no stage will run (target draft)."""
        if not self.states or self.total == 0:
            return Text("-", style="dim")
        glyphs = UNICODE_GLYPHS if unicode else ASCII_GLYPHS
        text = Text()
        for state in self.states:
            text.append(glyphs[state], style=STATE_STYLES[state])
        text.append(f" {self.done}/{self.total}")
        return text


def progress(stages: Sequence[StageStatus]) -> Progress:
    return Progress(tuple(s.state for s in stages))
