"""A spec read back from the verdict store is the spec the manifest loads to, type for type.

The store keeps a verdict's spec as `canonical_json(spec, allow_nan=False)` in its own
column, and trusts the YAML loader to have refused every key JSON would turn into text
(the json round-trip check it had is gone). A reused spec is what a pass submits, so
it must equal the loaded one with the same types: a pull request chooses every value,
and YAML 1.1 reads many spellings as numbers (hex, sexagesimal, `1_000`, `-0.0`, long
integers). What JSON cannot give back (a NaN, an infinity) must never be kept, and no
spelling of a non-text key may reach the store. Each check runs the real validation
(`evaluate.default_validate`) over a real commit, through two `reusing` validators
over one store directory: a first process that validates, a second that reuses.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from example_offers import offer_files
from git_helpers import GitRepos

from controller.git.repo import GitRepo
from controller.reconcile import evaluate
from controller.reconcile.reuse import VerdictStore, reusing
from controller.reconcile.types import EVERY_OFFER, OfferCheck
from controller.validation.files import FileSource

OFFER = "odd-offer"
MANIFEST = f"offers/{OFFER}/offer.yaml"


class Counted:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, files: FileSource, offer: str) -> OfferCheck:
        self.calls += 1
        return evaluate.default_validate(files, offer)


def _with_extra(extra: str) -> dict[str, bytes]:
    """The example offer with `extra` (YAML lines indented under spec:) added to its spec."""
    files = offer_files(OFFER, "draft")
    text = files[MANIFEST].decode()
    files[MANIFEST] = text.replace("\nspec:\n", f"\nspec:\n{extra}", 1).encode()
    return files


def _typed(value: Any) -> Any:
    """`value` with every number tagged by its exact type and bits: `==` says 1 == 1.0 ==
    True and 0.0 == -0.0, which a submitted payload does not."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    if isinstance(value, float):
        return ("float", value.hex())
    return (type(value).__name__, value)


def _twice(
    gitrepos: GitRepos, tmp_path: Path, files: dict[str, bytes]
) -> tuple[OfferCheck, OfferCheck, Counted]:
    """The verdict of a first process, and the one a second process gets for the same commit."""
    repo = gitrepos.init("offers-repo", files)
    store_dir = tmp_path / "cache"
    with GitRepo(repo) as handle:
        snapshot = evaluate.read(handle, handle.resolve("HEAD") or "", EVERY_OFFER)
        first_store = VerdictStore(store_dir)
        first = reusing(Counted(), first_store)(snapshot.files, OFFER)
        first_store.close()  # the process ends: its verdicts are written
        second_validate = Counted()
        second_store = VerdictStore(store_dir)
        second = reusing(second_validate, second_store)(snapshot.files, OFFER)
        second_store.close()
    return first, second, second_validate


NUMBERS = """\
  oddValues:
    negativeZero: -0.0
    one: 1
    oneFloat: 1.0
    hex: 0x1F
    binary: 0b101
    underscored: 1_000
    sexagesimalInt: 1:20
    sexagesimalFloat: 190:20:30.15
    long: 123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890
    negativeLong: -98765432109876543210987654321
    tiny: 5.0e-324
    huge: 1.7976931348623157e+308
    precise: 0.1000000000000000055511151231257827
    "yes": yes
    "no": NO
    null-ish: ~
    text: "line\\u2028sep \\x85 \\U0001F600 \\t tab"
    date: 2026-01-05
    timestamp: 2026-01-05T10:00:00Z
    octal-looking: 0o17
    leading-zero: 010
    plus-exp: +12e03
    list: [1, 1.0, true, -0.0, "1"]
"""


def test_yaml_numbers_come_back_from_the_store_with_their_types(
    gitrepos: GitRepos, tmp_path: Path
) -> None:
    first, second, second_validate = _twice(gitrepos, tmp_path, _with_extra(NUMBERS))
    assert second_validate.calls == 0, "the second process reuses the verdict"
    assert second.generation == first.generation
    fresh, reused = dict(first.spec), dict(second.spec)
    assert fresh["oddValues"]["long"] > 10**80
    assert math.copysign(1.0, fresh["oddValues"]["negativeZero"]) == -1.0
    assert _typed(reused) == _typed(fresh)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(".nan", id="nan"),
        pytest.param(".inf", id="inf"),
        pytest.param("-.Inf", id="minus-inf"),
        pytest.param("1.0e+400", id="overflows-to-inf"),
        pytest.param("[1, .NaN]", id="nan-in-a-list"),
        pytest.param("{deep: {deeper: -.inf}}", id="inf-nested"),
    ],
)
def test_a_spec_json_cannot_give_back_is_validated_every_time(
    gitrepos: GitRepos, tmp_path: Path, value: str
) -> None:
    first, second, second_validate = _twice(
        gitrepos, tmp_path, _with_extra(f"  oddValue: {value}\n")
    )
    assert second_validate.calls == 1, "not kept: the second process validates again"
    assert second.generation == first.generation
    assert second.findings == first.findings


@pytest.mark.parametrize(
    "keys",
    [
        pytest.param("  1: one\n", id="int-key"),
        pytest.param("  ~: nothing\n", id="null-key"),
        pytest.param("  NO: norway\n", id="bool-key"),
        pytest.param("  1.5: x\n", id="float-key"),
        pytest.param("  .nan: x\n", id="nan-key"),
        pytest.param("  base: &b {1: one}\n  merged:\n    <<: *b\n", id="merged-int-key"),
        pytest.param("  merged:\n    <<: [{a: 1}, {~: 2}]\n", id="merged-list-null-key"),
        pytest.param("  nested: {inner: {0x10: sixteen}}\n", id="flow-hex-key"),
        pytest.param("  ? [a, b]\n  : list-key\n", id="complex-key"),
        pytest.param("  things: &l {2: x}\n  again: *l\n", id="aliased-int-key"),
    ],
)
def test_a_non_text_key_never_reaches_the_store(
    gitrepos: GitRepos, tmp_path: Path, keys: str
) -> None:
    first, second, _ = _twice(gitrepos, tmp_path, _with_extra(keys))
    assert not first.spec, "a manifest with a non-text key has no spec"
    assert {f.code for f in first.findings} & {"KeyNotText", "YamlSyntax"}, first.findings
    assert second.findings == first.findings
    assert not second.spec
