"""controller/git/ is the only code that starts git or imports GitPython."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import controller

ROOT = Path(controller.__file__).parent
GIT_PACKAGE = ROOT / "git"
_SUSPECT = re.compile(r"^\s*(?:import|from)\s+git\b|subprocess|Popen|\bos\.(?:exec|spawn)", re.M)
_RUNNERS = {"run", "Popen", "call", "check_call", "check_output", "execv", "execvp", "spawnv"}


def _modules() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if GIT_PACKAGE not in p.parents)


def _starts_git(call: ast.Call) -> bool:
    """A subprocess/os call whose argv literal starts with "git" (or a git executable)."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if name not in _RUNNERS or not call.args:
        return False
    argv = call.args[0]
    if isinstance(argv, ast.List | ast.Tuple) and argv.elts:
        first = argv.elts[0]
        return isinstance(first, ast.Constant) and first.value == "git"
    return isinstance(argv, ast.Constant) and str(argv.value).split()[:1] == ["git"]


def test_no_module_outside_controller_git_imports_gitpython_or_runs_git() -> None:
    offenders: list[str] = []
    for path in _modules():
        text = path.read_text(encoding="utf-8")
        if not _SUSPECT.search(text):
            continue  # no import of git, no process started: nothing to parse
        tree = ast.parse(text, str(path))
        for node in ast.walk(tree):
            where = f"{path.relative_to(ROOT.parent)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                offenders += [
                    f"{where} imports {a.name}"
                    for a in node.names
                    if a.name == "git" or a.name.startswith("git.")
                ]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module == "git" or node.module.startswith("git."):
                    offenders.append(f"{where} imports from {node.module}")
            elif isinstance(node, ast.Call) and _starts_git(node):
                offenders.append(f"{where} starts git itself")
    assert offenders == []


def test_the_check_sees_what_it_looks_for(tmp_path: Path) -> None:
    """The detector itself: each forbidden form is caught."""
    samples = [
        "import subprocess\nsubprocess.run(['git', 'status'])\n",
        "from subprocess import Popen\nPopen(('git', 'log'))\n",
    ]
    for source in samples:
        calls = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)]
        assert any(_starts_git(c) for c in calls), source
    assert not any(
        _starts_git(c)
        for c in ast.walk(ast.parse("subprocess.run(['ssh-keygen', '-q'])\n"))
        if isinstance(c, ast.Call)
    )
