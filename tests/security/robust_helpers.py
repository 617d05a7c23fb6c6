"""Helpers for the robustness tests: a real offers repository and the real CLI in a subprocess.

`offers_repo` copies a shipped example offer under a chosen folder name into
a fresh git repository; `offerctl` runs `python -m controller` in a child
process with the pinned git environment, so a hang is caught by a timeout
and a crash shows up exactly as a user would see it.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest
from git_helpers import GitRepos

from controller import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "offers"
TEMPLATE = "fabrikam-case-triage"
FAST = ("--time-scale", "1000000")


def offer_files(offer: str, *, target: str = "preview") -> dict[str, str | bytes | None]:
    """The example offer as offers/<offer>/... with metadata.name set to the folder name."""
    folder = EXAMPLES / TEMPLATE
    files: dict[str, str | bytes | None] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name not in ("status.yaml", "signoff.yaml"):
            files[f"offers/{offer}/{path.relative_to(folder).as_posix()}"] = path.read_bytes()
    text = (folder / "offer.yaml").read_text(encoding="utf-8")
    text = text.replace(f"name: {TEMPLATE}", f"name: {offer}", 1)
    text = re.sub(r"^  target: \w+$", f"  target: {target}", text, count=1, flags=re.M)
    files[f"offers/{offer}/offer.yaml"] = text
    return files


def offers_repo(
    gitrepos: GitRepos,
    offers: Sequence[str],
    extra: Mapping[str, str | bytes | None] | None = None,
    *,
    name: str = "offers-repo",
    target: str = "preview",
) -> Path:
    files: dict[str, str | bytes | None] = {}
    for offer in offers:
        files.update(offer_files(offer, target=target))
    files.update(extra or {})
    return gitrepos.init(name, files)


@pytest.fixture
def no_offerctl_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OFFERCTL_* setting from the developer's shell reaches an in-process command."""
    for name in list(os.environ):
        if name.startswith("OFFERCTL_"):
            monkeypatch.delenv(name)


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFERCTL_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra or {})
    return env


def offerctl(
    *argv: str,
    cwd: Path | None = None,
    timeout: float = 60,
    env: Mapping[str, str] | None = None,
) -> Ran:
    """`python -m controller ARGV` in a child process; its exit status and output."""
    proc = subprocess.run(
        [sys.executable, "-m", "controller", *argv],
        cwd=cwd,
        env=child_env(env),
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    return Ran(
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
    )


def offerctl_here(*argv: str) -> Ran:
    """The real CLI in this process (faster than a child); stdout and stderr captured."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(list(argv))
    return Ran(code, out.getvalue(), err.getvalue())


def offerctl_into_closed_pipe(*argv: str) -> Ran:
    """The real CLI in this process, its stdout a pipe whose reader is gone (`| head -0`)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    err = io.StringIO()
    with (
        os.fdopen(write_end, "w", encoding="utf-8") as out,
        redirect_stdout(out),
        redirect_stderr(err),
    ):
        code = cli.main(list(argv))
    return Ran(code, "", err.getvalue())
