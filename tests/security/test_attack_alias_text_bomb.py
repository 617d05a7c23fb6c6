"""A manifest under the size cap cannot name one long string so often that walking it
costs gigabytes.

The loader capped the nodes a document expands to through aliases (100,000), not
the text: `blob: &s "<100 KB>"` and a list of 4,000 `*s` is a 120 KB manifest that
every walker meets as 400 MB (the strings' secret scan, the generation's canonical
JSON, precheck's marshalled question, each its own copy): 3 s of CPU and 800 MB to
validate one offer, and close to 1 MiB of manifest made it about a hundred GB, the
end of the daemon (or of `plan` on a pull request) and so of every other offer.
The loader now refuses a document whose text expands past `MAX_EXPANDED_CHARS`.
"""

from __future__ import annotations

import resource
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml
from example_offers import offer_files
from git_helpers import GitRepos, git
from market_helpers import Clock

from controller.files import yamlio
from controller.files.yamlio import MAX_BYTES, MAX_EXPANDED_CHARS, YamlError, load_yaml
from controller.git.repo import GitRepo
from controller.marketplace.simulated import SimulatedMarketplace
from controller.reconcile import evaluate
from controller.reconcile.reconciler import Watch, build_reconciler
from controller.validation.files import WorktreeFiles

OFFER = "bomb-offer"
MANIFEST = f"offers/{OFFER}/offer.yaml"


def _bomb(string_chars: int, aliases: int, *, key: bool = False) -> bytes:
    """The example manifest with one long string named `aliases` times under spec."""
    text = offer_files(OFFER, "draft")[MANIFEST].decode()
    if key:  # the long text as a key of a mapping named over and over
        extra = f'  blob: &s\n    ? "{"k" * string_chars}"\n    : 1\n'  # explicit: long
    else:
        extra = f'  blob: &s "{"x" * string_chars}"\n'
    extra += "  many: [" + ", ".join(["*s"] * aliases) + "]\n"
    data = text.replace("\nspec:\n", "\nspec:\n" + extra, 1).encode()
    assert len(data) < MAX_BYTES
    return data


@pytest.mark.parametrize(
    ("string_chars", "aliases", "key"),
    [
        pytest.param(100_000, 4_000, False, id="400MB-of-string"),
        pytest.param(900_000, 20_000, False, id="18GB-of-string"),
        pytest.param(500_000, 45_000, True, id="22GB-of-key"),
        pytest.param(40_000, 25_000, False, id="1GB-in-small-pieces"),
    ],
)
def test_a_text_bomb_is_refused_before_anything_walks_it(
    string_chars: int, aliases: int, key: bool
) -> None:
    data = _bomb(string_chars, aliases, key=key)
    tracemalloc.start()
    started = time.process_time()
    try:
        with pytest.raises(YamlError) as refused:
            load_yaml(data, name=MANIFEST)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert refused.value.code == "AliasLimit"
    assert "characters of text" in refused.value.message
    assert refused.value.line > 1, "placed at the first alias"
    assert time.process_time() - started < 2.0
    assert peak < 64 * len(data) + (16 << 20), "nothing expanded"


def test_a_manifest_that_names_its_text_a_few_times_still_loads() -> None:
    """Aliases are allowed: within the cap, the document loads as it always did."""
    data = _bomb(100_000, MAX_EXPANDED_CHARS // 100_000 - 2)
    loaded = load_yaml(data, name=MANIFEST).document
    assert len(loaded["spec"]["many"]) == MAX_EXPANDED_CHARS // 100_000 - 2
    assert loaded["spec"]["many"][0] == "x" * 100_000
    assert loaded == yaml.load(data, Loader=yaml.CSafeLoader)  # the reference loader


def test_validating_a_text_bomb_is_cheap(tmp_path: Path) -> None:
    files = offer_files(OFFER, "draft")
    files[MANIFEST] = _bomb(100_000, 4_000)
    for path, data in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(data)
    before = resource.getrusage(resource.RUSAGE_SELF)
    check = evaluate.default_validate(WorktreeFiles(tmp_path), OFFER)
    after = resource.getrusage(resource.RUSAGE_SELF)
    assert {f.code for f in check.findings} == {"AliasLimit"}
    assert after.ru_utime - before.ru_utime < 1.0


def test_a_text_bomb_in_one_offer_spares_the_others(gitrepos: GitRepos, tmp_path: Path) -> None:
    files = {**offer_files(OFFER, "draft"), **offer_files("good-offer", "draft")}
    files[MANIFEST] = _bomb(200_000, 4_000)
    repo = gitrepos.init("offers-repo", files)
    market = SimulatedMarketplace(tmp_path / "market.db", time_scale=1.0, clock=Clock())
    try:
        with GitRepo(repo) as handle:
            build_reconciler(handle, market, Watch(), clock=Clock()).run_pass(full=True)
    finally:
        market.close()
    bad = yaml.safe_load(git(repo, "show", f"HEAD:offers/{OFFER}/status.yaml"))
    good = yaml.safe_load(git(repo, "show", "HEAD:offers/good-offer/status.yaml"))
    assert bad["phase"] == "Invalid"
    assert [f["code"] for f in bad["feedback"]] == ["AliasLimit"]
    assert good["phase"] == "Draft", good


def test_the_cap_is_four_times_what_a_file_may_hold() -> None:
    assert MAX_EXPANDED_CHARS == 4 * yamlio.MAX_BYTES
