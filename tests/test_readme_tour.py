"""The README's tour, run literally: every command of it in one shell, as a reader types it.

The tour is read from README.md ("## Five-minute tour" up to the next "## "):
each ```sh block's commands run in order in one bash session started in a
scratch directory beside a copy of this project named `offerctl` (the tour
copies the shipped examples from `../offerctl`), with `offerctl` on PATH as
the README's set-up leaves it. What a reader would copy from a previous
command's output (a generation) is copied the same way: the README's example
value is learned from the output where the README shows it, and replaced in
every later command. A comment after a command, `# "text ... more"`, is the
output the README promises, checked in order; a plain ``` block after a
command is a table whose rows (offer and phase) must appear in its output.
The example generation the README shows must be the one the command prints:
it is a digest of the shipped offer's id, spec and files, so it is stable.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEX = re.compile(r"\b[0-9a-f]{12}\b")
HEREDOC = re.compile(r"<<-?\s*'?\"?(\w+)'?\"?")
QUOTED = re.compile(r'#\s*"([^"]+)"')


@dataclass
class Step:
    """One command as a reader types it, and what the README says it prints."""

    command: str
    expects: list[str] = field(default_factory=list)
    table: list[list[str]] = field(default_factory=list)


def tour_section(readme: str) -> str:
    start = readme.index("## Five-minute tour")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end != -1 else len(readme)]


def parse_steps(section: str) -> list[Step]:
    """The commands of every ```sh block in order, with their promised output."""
    steps: list[Step] = []
    blocks = re.findall(r"```(\w*)\n(.*?)```", section, flags=re.DOTALL)
    for lang, body in blocks:
        if lang != "sh":
            if steps:
                rows = [re.split(r"\s{2,}", line.strip()) for line in body.splitlines()[1:]]
                steps[-1].table = [row for row in rows if len(row) >= 3]
            continue
        lines = body.splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            i += 1
            if not line.strip():
                continue
            if line.lstrip().startswith("#"):
                if steps:
                    steps[-1].expects.extend(_expectations(line))
                continue
            command = line
            while command.endswith("\\") and i < len(lines):
                command = command + "\n" + lines[i]
                i += 1
            heredoc = HEREDOC.search(command)
            if heredoc:
                word = heredoc.group(1)
                while i < len(lines):
                    command += "\n" + lines[i]
                    i += 1
                    if lines[i - 1].strip() == word:
                        break
            code, _, comment = _split_comment(command)
            steps.append(Step(command=code, expects=_expectations(comment)))
    return steps


def _split_comment(command: str) -> tuple[str, str, str]:
    """A trailing `# ...` on the command's last line, outside quotes and heredocs."""
    if "\n" in command and HEREDOC.search(command):
        return command, "", ""
    match = re.search(r"\s{2,}#\s.*$", command)
    if not match:
        return command, "", ""
    return command[: match.start()], "#", command[match.start() :].strip()


def _expectations(comment: str) -> list[str]:
    quoted = QUOTED.findall(comment)
    if quoted:
        return quoted
    text = comment.strip().lstrip("#").strip()
    # An unquoted comment that looks like printed output ("Created branch ...").
    return [text] if text[:1].isupper() and "..." in text else []


class Shell:
    """One bash session: commands in, their output and exit status back."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def run(self, command: str) -> tuple[int, str]:
        marker = f"__tour_{uuid.uuid4().hex}__"
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f'{command}\necho "{marker} $?"\n')
        self.proc.stdin.flush()
        out: list[str] = []
        for line in self.proc.stdout:
            if line.startswith(marker):
                return int(line.split()[1]), "".join(out)
            out.append(line)
        raise AssertionError(f"the shell ended during {command!r}:\n{''.join(out)}")

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def expectation_pattern(text: str, known: dict[str, str]) -> tuple[re.Pattern[str], list[str]]:
    """`text` as a regex: `...` matches anything, an example hash a real one."""
    names: list[str] = []
    parts: list[str] = []
    for piece in re.split(r"(\.\.\.|\b[0-9a-f]{12}\b)", text):
        if piece == "...":
            parts.append(".*?")
        elif HEX.fullmatch(piece):
            if piece in known:
                parts.append(re.escape(known[piece]))
            else:
                names.append(piece)
                parts.append("([0-9a-f]{12})")
        else:
            parts.append(re.escape(piece))
    return re.compile("".join(parts)), names


def substitute(command: str, known: dict[str, str]) -> str:
    return HEX.sub(lambda m: known.get(m.group(0), m.group(0)), command)


@pytest.mark.slow(budget=90)
def test_the_readme_tour_runs_as_written(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    steps = parse_steps(tour_section(readme))
    assert len(steps) >= 8, "the tour lost its commands"
    shutil.copytree(ROOT / "offers", tmp_path / "offerctl" / "offers")
    bindir = Path(shutil.which("offerctl") or Path(sys.executable).parent / "offerctl").parent
    env = dict(os.environ)
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    env.pop("OFFERCTL_TIME_SCALE", None)
    known: dict[str, str] = {}
    shell = Shell(tmp_path, env)
    try:
        for step in steps:
            command = substitute(step.command, known)
            status, output = shell.run(command)
            assert status == 0, f"`{command}` exited {status}:\n{output}"
            for text in step.expects:
                pattern, names = expectation_pattern(text, known)
                match = pattern.search(output)
                assert match, f"`{command}` did not print {text!r}:\n{output}"
                known.update(zip(names, match.groups(), strict=True))
                for shown, printed in zip(names, match.groups(), strict=True):
                    # The shipped example's generation is a digest of its id, spec and
                    # files: the README can show the real one, so a literal reader's
                    # copy of the command works as printed.
                    assert shown == printed, (
                        f"README shows {shown} where `{command}` prints {printed}: "
                        f"replace {shown} with {printed} in README.md"
                    )
            for row in step.table:
                line = next((x for x in output.splitlines() if x.startswith(row[0] + " ")), "")
                assert row[2] in line.split(), f"`{command}`: no row {row[:3]} in\n{output}"
    finally:
        shell.close()
