"""The parser registry: offerctl knows every verb and option without importing any verb.

Purity is what Python loads, so the start-up tests import `controller.cli` in a
fresh interpreter and look at `sys.modules`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys

import pytest

from controller.cli import COMMANDS, build_parser, main
from controller.commands import options

# Libraries a verb may need but building the parser must not load.
HEAVY = (
    "git",
    "watchdog",
    "prometheus_client",
    "rich",
    "holidays",
    "jsonschema",
    "yaml",
    "pycountry",
    "referencing",
    "sqlite3",
    "http.client",
    "urllib.request",
)


def _loaded_after(code: str) -> set[str]:
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    loaded: set[str] = set(json.loads(done.stdout.splitlines()[-1]))
    return loaded


def _heavy(loaded: set[str]) -> list[str]:
    return sorted(m for m in loaded for h in HEAVY if m == h or m.startswith(h + "."))


def test_building_the_parser_imports_no_heavy_library_and_no_verb() -> None:
    loaded = _loaded_after("from controller.cli import build_parser\nbuild_parser()")
    assert _heavy(loaded) == []
    verbs = sorted(
        m
        for m in loaded
        if m.startswith("controller.commands.") and m != "controller.commands.options"
    )
    assert verbs == []


def test_version_imports_no_heavy_library() -> None:
    code = (
        "from controller.cli import main\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['--version']) == 0"
    )
    assert _heavy(_loaded_after(code)) == []


def test_help_of_a_verb_imports_none_of_its_libraries() -> None:
    code = (
        "from controller.cli import main\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['run', '--help']) == 0"
    )
    loaded = _loaded_after(code)
    assert _heavy(loaded) == []
    assert "controller.commands.run" not in loaded


def test_every_verb_is_listed_and_runs_a_function_its_module_has() -> None:
    assert COMMANDS == (
        "validate",
        "reconcile",
        "run",
        "shards",
        "status",
        "wait",
        "plan",
        "pr-check",
        "signoff",
        "suspend",
        "resume",
        "history",
        "import",
        "diff",
        "marketplace",
        "demo",
    )
    for verb in options.VERBS:
        args = build_parser().parse_args(_minimal_argv(verb.name))
        command = args.func
        if verb.name == "marketplace":
            assert args.marketplace_command == "serve"
        assert isinstance(command, options.Command)
        module, _, name = command.target.partition(":")
        # `import` is a Python keyword: its module is import_; pr-check's is pr_check.
        named = verb.name.replace("-", "_")
        assert module == f"controller.commands.{named}" + ("_" if verb.name == "import" else "")
        assert callable(getattr(importlib.import_module(module), name))


def _minimal_argv(verb: str) -> list[str]:
    if verb in ("signoff", "history", "import", "diff", "suspend", "resume"):
        return [verb, "some-offer"]
    if verb == "wait":
        return [verb, "some-offer", "--for", "phase=Live"]
    if verb == "marketplace":
        return [verb, "serve"]
    return [verb]


def test_marketplace_without_a_verb_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["marketplace"]) == 2
    err = capsys.readouterr().err
    assert "offerctl marketplace serve" in err and "usage:" in err


def test_bad_time_scale_is_a_usage_error_without_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["reconcile", "--time-scale", "0"]) == 2
    assert "is not a number greater than 0" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["0", "-1", "soon", "604800"])
def test_bad_intervals_are_rejected_at_parse_time(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        options.seconds_arg(text)


def test_defaults_spelled_out_in_the_registry_equal_their_owners() -> None:
    from controller.daemon.http import DEFAULT_LISTEN
    from controller.daemon.webhook import DEFAULT_SECRET_ENV
    from controller.marketplace.factory import ENV_TIME_SCALE
    from controller.marketplace.server import DEFAULT_MAX_BODY
    from controller.present.console import COLOR_CHOICES
    from controller.present.data import DATA_FORMATS

    assert options.DAEMON_LISTEN == DEFAULT_LISTEN
    assert options.WEBHOOK_SECRET_ENV == DEFAULT_SECRET_ENV
    assert options.ENV_TIME_SCALE == ENV_TIME_SCALE
    assert options.MAX_BODY == DEFAULT_MAX_BODY
    assert options.COLOR_CHOICES == COLOR_CHOICES
    assert options.DATA_FORMATS == DATA_FORMATS

    from controller.signoff import operator

    assert options.ENV_GITHUB_API_URL == operator.ENV_GITHUB_API_URL
    assert options.ENV_GITHUB_TOKEN == operator.ENV_GITHUB_TOKEN
    assert options.DEFAULT_GITHUB_API_URL == operator.DEFAULT_GITHUB_API_URL
    assert options.ENV_AZURE_DEVOPS_URL == operator.ENV_AZURE_DEVOPS_URL
    assert options.ENV_AZURE_DEVOPS_TOKEN == operator.ENV_AZURE_DEVOPS_TOKEN
    assert options.DEFAULT_AZURE_DEVOPS_URL == operator.DEFAULT_AZURE_DEVOPS_URL


def test_python_dash_m_controller_prints_the_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "controller", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("offerctl ")
    assert json.dumps(done.stderr) == '""'
