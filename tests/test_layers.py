"""The layers hold in fact: what the pure core really loads, no import cycles, no upward imports.

docs/DESIGN.md §10 draws the layers. Three checks:

- Each pure module is imported in a fresh interpreter (one `python -c` that
  forks once per module, so each import starts from a clean `sys.modules`),
  and `sys.modules` afterwards must hold no I/O library: what Python really
  loads, including what a package `__init__` or a dependency drags in, not
  what the import statements say.
- The module-level import graph of the whole package has no cycle.
- No module imports from a higher layer (`LAYERS`), at module level or
  deferred inside a function.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parent.parent / "controller"

# Modules whose decisions must be computable without touching the world.
PURE_MODULES = (
    "controller.core.model",
    "controller.core.generation",
    "controller.core.pipeline",
    "controller.core.eta",
    "controller.core.planning",
    "controller.core.errors",
    "controller.core.escaping",
    "controller.core.redaction",
    "controller.core.timestamps",
    "controller.core.kept",
    "controller.files.source",
    "controller.repo.layout",
    "controller.repo.codeowners",
    "controller.repo.policy",
    "controller.repo.statustypes",
    "controller.marketplace.api",
    "controller.marketplace.timeline",
    "controller.signoff.rules",
    "controller.signoff.approvers",
    "controller.signoff.trailers",
    "controller.signoff.replay",
    "controller.daemon.workqueue",
    "controller.core.backoff",
    "controller.notify.events",
    "controller.present.page",
)

# Modules (and packages: a prefix followed by ".") that do I/O, run things or reach the
# network; none may be in sys.modules after importing a pure module.
FORBIDDEN_LOADED = (
    "git",
    "gitdb",
    "yaml",
    "jsonschema",
    "referencing",
    "httpx",
    "httpcore",
    "requests",
    "urllib3",
    "tenacity",
    "watchdog",
    "holidays",
    "pycountry",
    "subprocess",
    "sqlite3",
    "socket",
    "ssl",
    "urllib.request",
    "http.client",
    "http.server",
    "shutil",
    "tempfile",
    "multiprocessing",
    "concurrent.futures",
    "asyncio",
    "apprise",
    "playwright",
)

# Python loads os (and, via site, often pathlib) at start-up, so sys.modules cannot tell
# whether a pure module uses them; its import statements can.
FORBIDDEN_IMPORTED = frozenset({"os", "pathlib", "time", "shutil", "tempfile", "subprocess"})

# Lower layers never import higher ones; a package may import its own modules and any
# lower layer. Same-layer packages may not import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("controller", "controller.core", "controller.failpoint"),
    ("controller.files", "controller.http"),
    ("controller.validation",),
    ("controller.git",),
    ("controller.repo",),
    ("controller.signoff",),
    ("controller.marketplace",),
    ("controller.reconcile",),
    ("controller.notify",),
    ("controller.present",),
    ("controller.daemon",),
    ("controller.prcheck",),
    ("controller.demo",),
    ("controller.commands",),
    ("controller.cli",),
    ("controller.__main__",),
)
# Pure contract modules that sit in the core layer although their folder is higher: the
# core decides against them, so they may import only the core.
CONTRACTS = {
    "controller.repo.layout": "controller.core",  # names and the offer-id rule
    "controller.repo.codeowners": "controller.core",  # GitHub's CODEOWNERS format
    "controller.marketplace.api": "controller.core",  # the Marketplace protocol
}

_PROBE = r"""
import importlib, json, os, sys
# Stdlib modules every pure module uses, loaded once before forking (none is forbidden).
import collections.abc, dataclasses, datetime, enum, functools, re, typing
forbidden = tuple(json.loads(sys.argv[1]))
for name in json.loads(sys.argv[2]):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            importlib.import_module(name)
            found = sorted(
                m for m in sys.modules
                if any(m == f or m.startswith(f + ".") for f in forbidden)
            )
            out = {"module": name, "loaded": found}
        except BaseException as exc:
            out = {"module": name, "error": repr(exc)}
        os.write(write, json.dumps(out).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    print(data.decode())
"""


def _probe(modules: tuple[str, ...]) -> dict[str, dict[str, object]]:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _PROBE,
            json.dumps(FORBIDDEN_LOADED),
            json.dumps(modules),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=PACKAGE_ROOT.parent,
    )
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return {str(r["module"]): r for r in results}


@pytest.fixture(scope="module")
def loaded() -> dict[str, dict[str, object]]:
    return _probe((*PURE_MODULES, "controller.files.yamlio", "controller.git.history"))


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_module_loads_no_io_library(loaded: dict[str, dict[str, object]], module: str) -> None:
    result = loaded[module]
    assert "error" not in result, result.get("error")
    assert result["loaded"] == [], f"importing {module} loads {result['loaded']}"


def test_the_probe_notices_an_io_library(loaded: dict[str, dict[str, object]]) -> None:
    """Modules that do I/O are seen by the same probe (the check can fail)."""
    assert "yaml" in loaded["controller.files.yamlio"]["loaded"]  # type: ignore[operator]
    assert "subprocess" in loaded["controller.git.history"]["loaded"]  # type: ignore[operator]


# ---------------------------------------------------------------- the import graph


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in PACKAGE_ROOT.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()
_TREES = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in MODULES.items()}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(tree: ast.Module, *, deferred: bool) -> Iterator[ast.stmt]:
    """Import-time statements (`deferred`: also function bodies); never TYPE_CHECKING blocks."""
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node):
            pending.extend(node.orelse)
            continue
        nested = (ast.If, ast.Try, ast.ClassDef, ast.With, ast.For, ast.While)
        if deferred:
            nested += (ast.FunctionDef, ast.AsyncFunctionDef)
        if isinstance(node, nested):
            pending.extend(c for c in ast.iter_child_nodes(node) if isinstance(c, ast.stmt))
            for handler in getattr(node, "handlers", []):
                pending.extend(handler.body)


def imports_of(name: str, *, deferred: bool = False) -> set[str]:
    """What `name` imports: modules of this package where it names one, else the package
    (`from P import f` needs P's `__init__`; `from P import module` needs only the module);
    outside names as written."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _statements(_TREES[name], deferred=deferred):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else base)
    found.discard(name)
    return found


def graph(*, deferred: bool = False) -> dict[str, set[str]]:
    return {m: {i for i in imports_of(m, deferred=deferred) if i in MODULES} for m in MODULES}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component: list[str] = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        component.append(top)
                        if top == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(edges[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def _within(module: str, prefix: str) -> bool:
    # "controller" is the root module itself, not everything under it
    return module == prefix or (prefix != "controller" and module.startswith(prefix + "."))


def layer_of(module: str) -> int:
    home = CONTRACTS.get(module, module)
    best, depth = -1, -1
    for level, names in enumerate(LAYERS):
        for prefix in names:
            if _within(home, prefix) and len(prefix) > depth:
                best, depth = level, len(prefix)
    assert best >= 0, f"{module} is in no layer: add its package to LAYERS"
    return best


def _package(module: str) -> str:
    home = CONTRACTS.get(module, module)
    matches = [p for names in LAYERS for p in names if _within(home, p)]
    return max(matches, key=len)


def upward_imports(edges: dict[str, set[str]]) -> list[str]:
    found = []
    for module, targets in sorted(edges.items()):
        for target in sorted(targets):
            own, their = layer_of(module), layer_of(target)
            if their > own or (their == own and _package(module) != _package(target)):
                found.append(f"{module} (layer {own}) -> {target} (layer {their})")
    return found


def test_no_import_cycles() -> None:
    assert cycles(graph()) == []


def test_no_upward_imports() -> None:
    assert upward_imports(graph(deferred=True)) == []


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        layer_of(module)


def test_the_graph_checks_can_fail() -> None:
    """A cycle and an upward edge planted in a copy of the real graph are found."""
    edges = {m: set(t) for m, t in graph().items()}
    edges["controller.core.model"].add("controller.core.pipeline")  # pipeline imports model
    assert any(
        {"controller.core.model", "controller.core.pipeline"} <= set(c) for c in cycles(edges)
    )
    edges = {"controller.core.model": {"controller.git.repo"}, "controller.git.repo": set()}
    assert upward_imports(edges) == [
        "controller.core.model (layer 0) -> controller.git.repo (layer 3)"
    ]


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_module_imports_no_os_or_clock(module: str) -> None:
    """Followed through the package at import time, a pure module's imports reach no os,
    pathlib or time (sys.modules cannot say: Python loads those at start-up)."""
    seen: set[str] = set()
    pending = [(module, (module,))]
    while pending:
        name, chain = pending.pop()
        for imported in sorted(imports_of(name)):
            root = imported.split(".")[0]
            assert root not in FORBIDDEN_IMPORTED, " -> ".join((*chain, imported))
            if imported in MODULES and imported not in seen:
                seen.add(imported)
                pending.append((imported, (*chain, imported)))
