"""A finding's path repeats the pull request's keys: it is shown bounded, however long they are.

Every finding under a key carries that key in its path, into status.yaml, CI logs
and the marketplace's feedback. Before paths were cut, one 200,000-character key
with a few hundred findings under it made a status of tens of megabytes.
"""

from __future__ import annotations

import yaml
from offer_helpers import BASE, WriteOffer

from controller.validation.engine import validate_repo
from controller.validation.files import WorktreeFiles
from controller.validation.issues import KEY_CHARS, PATH_KEYS, json_path


def test_a_short_path_is_shown_whole() -> None:
    assert json_path(("spec", "listings", "en-us", "name")) == "$.spec.listings.en-us.name"
    assert json_path(("spec", "plans", 0, "id")) == "$.spec.plans[0].id"


def test_a_long_key_keeps_its_start_and_its_end() -> None:
    key = "a" * 500 + "middle" + "z" * 500
    shown = json_path(("spec", key))
    step = shown.removeprefix("$.spec['").removesuffix("']")  # "…" is quoted, as any non-plain key
    assert len(step) == KEY_CHARS
    assert step.startswith("a" * (KEY_CHARS // 2)) and step.endswith("z" * 10)
    assert "…" in step and "middle" not in step


def test_a_key_at_the_limit_is_not_cut() -> None:
    key = "k" * KEY_CHARS
    assert json_path((key,)) == f"$.{key}"


def test_a_cut_key_with_unsafe_characters_stays_escaped() -> None:
    key = "\u202e" * 1000  # right-to-left override: must never reach a terminal raw
    shown = json_path((key,))
    assert "\u202e" not in shown
    assert len(shown) < 8 * KEY_CHARS


def test_a_deep_path_keeps_its_first_and_last_keys() -> None:
    path = tuple(f"k{i}" for i in range(40))
    shown = json_path(path)
    assert shown.startswith("$.k0.k1.")
    assert shown.endswith(".k38.k39")
    assert ".…." in shown
    assert shown.count(".k") == PATH_KEYS


def test_findings_under_a_huge_key_make_a_bounded_report(write_offer: WriteOffer) -> None:
    """Hundreds of findings below one 200,000-character label key: each path stays short."""
    manifest = yaml.safe_load(BASE)
    key = "x" * 200_000
    manifest["metadata"]["labels"] = {key: {f"n{i}": i for i in range(300)}}
    root = write_offer(yaml.safe_dump(manifest, width=10**9))
    (result,) = validate_repo(WorktreeFiles(root))
    assert not result.ok
    assert result.findings, "the hostile labels must be reported"
    longest = max(len(f.path) for f in result.findings)
    assert longest <= PATH_KEYS * (KEY_CHARS + 8)
    assert any("x" * (KEY_CHARS // 2) in f.path for f in result.findings)
    assert sum(len(f.path) + len(f.message) for f in result.findings) < 200_000
