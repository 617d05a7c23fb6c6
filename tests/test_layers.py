"""The pure core stays pure: decision modules reach no I/O library, even indirectly.

STYLE.md: the pipeline turns (offer, last status, observation, now) into
(new status, actions) and imports no git, yaml, jsonschema, watchdog, os or
pathlib. This test follows each pure module's imports through the package
and fails naming the chain that reaches a forbidden module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parent.parent / "controller"

# Modules whose decisions must be computable without touching the world.
PURE_MODULES = (
    "controller.core.model",
    "controller.core.generation",
    "controller.core.pipeline",
    "controller.core.eta",
    "controller.marketplace.api",
    "controller.marketplace.timeline",
    "controller.signoff.rules",
    "controller.daemon.workqueue",
    "controller.notify.events",
    "controller.present.page",
)

# Roots of libraries that do I/O (or execute things) and have no place in the pure core.
FORBIDDEN = frozenset(
    {
        "git",
        "yaml",
        "jsonschema",
        "referencing",
        "watchdog",
        "os",
        "pathlib",
        "subprocess",
        "sqlite3",
        "socket",
        "urllib",
        "http",
        "shutil",
        "tempfile",
        "time",
        "apprise",
    }
)


def _module_file(name: str) -> Path | None:
    parts = name.split(".")
    if parts[0] != "controller":
        return None
    base = PACKAGE_ROOT.joinpath(*parts[1:])
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _module_level(tree: ast.Module) -> list[ast.stmt]:
    """Statements that run at import time: function bodies are left out on purpose,
    since a deferred import (see policy.py) is how a data module keeps its parser's
    dependencies away from the pure code that only reads its types."""
    out: list[ast.stmt] = []
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        out.append(node)
        if isinstance(node, ast.If | ast.Try | ast.ClassDef | ast.With):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    pending.append(child)
            for handler in getattr(node, "handlers", []):
                pending.extend(handler.body)
    return out


def _imports(name: str) -> set[str]:
    path = _module_file(name)
    assert path is not None, name
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in _module_level(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            for alias in node.names:  # `from controller import eta` imports a module
                if _module_file(f"{base}.{alias.name}") is not None:
                    found.add(f"{base}.{alias.name}")
    return found


def _forbidden_chain(start: str) -> list[str] | None:
    seen: set[str] = set()
    stack: list[list[str]] = [[start]]
    while stack:
        chain = stack.pop()
        for imported in sorted(_imports(chain[-1])):
            if imported.split(".")[0] in FORBIDDEN:
                return [*chain, imported]
            if _module_file(imported) is not None and imported not in seen:
                seen.add(imported)
                stack.append([*chain, imported])
    return None


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_module_reaches_no_io_library(module: str) -> None:
    chain = _forbidden_chain(module)
    assert chain is None, " -> ".join(chain or [])


def test_the_checker_notices_a_forbidden_import() -> None:
    """The reconciler does I/O, so the same walk must flag it (the check can fail)."""
    chain = _forbidden_chain("controller.reconcile.reconciler")
    assert chain is not None
    assert chain[-1].split(".")[0] in FORBIDDEN
