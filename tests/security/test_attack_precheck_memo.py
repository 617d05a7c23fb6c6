"""Precheck's kept answer is never handed to a question it was not worked out for.

`precheck` now keeps its whole answer in `scanmemo`, keyed by the spec marshalled
(version 2) and each file's name and SHA-256, and the two callers ask it
differently: validation passes the walk of the whole manifest (`strings`, `refs`),
the simulated marketplace's certification passes only the payload's spec. Whoever
asks first fills the memo for the other. The attacks: a payload whose spec equals a
validated one but whose files differ only in bytes (same names, same lengths); specs
that are `==` but of other types (1, 1.0, True; 0.0, -0.0), which marshal must keep
apart; specs that are no plain dict (what a reused verdict submits), which must not
be kept at all; and manifests whose strings sit where the two walks could disagree
(links outside `spec`, secrets, listing keys that are not text, NOT_TEXT keys), in
both orders. Every answer must be what a cold precheck gives.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import yaml
from example_offers import offer_files

from controller.reconcile.reuse import LazySpec
from controller.validation import precheck as precheck_module
from controller.validation import scanmemo
from controller.validation.issues import Issue
from controller.validation.precheck import precheck
from controller.validation.semantic import asset_refs
from controller.validation.strings import Strings
from controller.validation.zipscan import EICAR

OFFER = "memo-offer"
PREFIX = f"offers/{OFFER}/"


@pytest.fixture(autouse=True)
def _cold_memo() -> Iterator[None]:
    scanmemo.clear()
    yield
    scanmemo.clear()


def _example() -> tuple[dict[str, Any], dict[str, bytes]]:
    """The example offer's manifest, loaded, and its assets by offer-relative path."""

    files = offer_files(OFFER, "draft")
    manifest = yaml.safe_load(files.pop(f"{PREFIX}offer.yaml"))
    return manifest, {path.removeprefix(PREFIX): data for path, data in files.items()}


def _cold(spec: Mapping[str, Any], files: dict[str, bytes]) -> list[Issue]:
    scanmemo.clear()
    try:
        return precheck(spec, files)
    finally:
        scanmemo.clear()


def _as_validation(manifest: dict[str, Any], files: dict[str, bytes]) -> list[Issue]:
    return precheck(
        manifest["spec"], files, strings=Strings.of(manifest), refs=asset_refs(manifest)
    )


def _as_certification(manifest: dict[str, Any], files: dict[str, bytes]) -> list[Issue]:
    return precheck(copy.deepcopy(manifest["spec"]), dict(files))


def test_a_validated_spec_with_other_bytes_of_the_same_size_is_checked_afresh() -> None:
    manifest, files = _example()
    package = manifest["spec"]["technicalConfiguration"]["packageFile"]
    logo = manifest["spec"]["listings"]["en-us"]["logos"]["small"]
    clean = _as_validation(manifest, files)
    assert not [i for i in clean if i.code == "VirusFound"]
    for name in (package, logo):
        data = files[name]
        infected = {**files, name: data[: -len(EICAR)] + EICAR}
        assert len(infected[name]) == len(data)
        found = _as_certification(manifest, infected)
        assert [i for i in found if i.code == "VirusFound"], name
        assert found == _cold(manifest["spec"], infected)
    assert _as_certification(manifest, files) == clean, "the clean payload: the kept answer"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        pytest.param(1, True, id="int-bool"),
        pytest.param(1, 1.0, id="int-float"),
        pytest.param(0.0, -0.0, id="zero-signs"),
        pytest.param("1", 1, id="text-int"),
        pytest.param([1], (1,), id="list-tuple"),
        pytest.param(float("nan"), float("nan"), id="nan-nan"),
    ],
)
def test_specs_equal_under_eq_but_not_in_type_are_other_questions(one: Any, other: Any) -> None:
    """No rule reads these today, so the answers agree; the question must still differ
    wherever the values do in type, so that a rule that comes to read them is safe."""
    first = {"technicalConfiguration": {"packageVersion": one}}
    second = {"technicalConfiguration": {"packageVersion": other}}
    asked = precheck_module._question(first, {}), precheck_module._question(second, {})
    if type(one) is not type(other) or repr(one) != repr(other):
        assert asked[0] != asked[1]
    assert precheck(first, {}) == _cold(first, {})
    assert precheck(second, {}) == _cold(second, {})


def test_file_order_and_names_are_part_of_the_question() -> None:
    spec = {"listings": {"en-us": {"logos": {"small": "a.png", "large": "b.png"}}}}
    a, b = b"\x89PNG first", b"\x89PNG second"
    swapped = precheck(spec, {"a.png": b, "b.png": a})
    straight = precheck(spec, {"a.png": a, "b.png": b})
    assert swapped == _cold(spec, {"a.png": b, "b.png": a})
    assert straight == _cold(spec, {"a.png": a, "b.png": b})


class _NotADict(Mapping[str, Any]):
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


class _Text(str):
    pass


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda s: LazySpec(lambda: s), id="lazy-spec"),
        pytest.param(_NotADict, id="mapping"),
        pytest.param(lambda s: {**s, "alias": _Text("TODO later")}, id="str-subclass"),
    ],
)
def test_a_spec_that_is_no_plain_data_is_never_kept(make: Any) -> None:
    manifest, files = _example()
    spec = make(manifest["spec"])
    assert precheck_module._question(spec, files) is None
    assert precheck(spec, files) == _cold(dict(spec), files)
    assert scanmemo.weight() == 0 or not any(key[0] == "precheck" for key in scanmemo._answers), (
        "nothing kept under the precheck kind"
    )


def _hostile_manifests() -> Iterator[tuple[str, dict[str, Any]]]:
    manifest, _ = _example()
    listing = manifest["spec"]["listings"]["en-us"]

    def variant(name: str, edit: Any) -> tuple[str, dict[str, Any]]:
        made = copy.deepcopy(manifest)
        edit(made)
        return name, made

    yield variant("plain", lambda m: None)
    yield variant(
        "link-outside-spec", lambda m: m["metadata"].update(labels={"x": "http://outside"})
    )
    yield variant("insecure-link", lambda m: m["spec"].update(extra=["ftp://files.example.com"]))
    yield variant(
        "secret-link", lambda m: m["spec"].update(extra="https://user:hunter2@example.com/x")
    )
    yield variant(
        "sas-link",
        lambda m: m["spec"].update(extra="http://a.blob.core.windows.net/c?sv=1&sig=abc"),
    )
    yield variant(
        "placeholder-in-not-text",
        lambda m: m["spec"]["listings"]["en-us"]["contacts"]["support"].update(url="TODO"),
    )
    yield variant(
        "placeholder-in-caption",
        lambda m: m["spec"]["listings"]["en-us"]["screenshots"][0].update(caption="Lorem ipsum"),
    )
    yield variant(
        "second-language",
        lambda m: m["spec"]["listings"].update({"de-de": {**listing, "name": "TBD"}}),
    )
    yield variant(
        "listing-not-mapping", lambda m: m["spec"]["listings"].update({"fr-fr": ["TODO"]})
    )
    yield variant("listings-list", lambda m: m["spec"].update(listings=[listing]))
    yield variant(
        "help-equals-support",
        lambda m: m["spec"]["listings"]["en-us"].update(
            helpLink=listing["contacts"]["support"]["url"] + "/"
        ),
    )
    yield variant("no-privacy", lambda m: m["spec"]["properties"].pop("legal"))


@pytest.mark.parametrize(
    "validation_first", [True, False], ids=["validation-first", "certification-first"]
)
@pytest.mark.parametrize(
    "manifest", [m for _, m in _hostile_manifests()], ids=[n for n, _ in _hostile_manifests()]
)
def test_validation_and_certification_agree_whoever_asks_first(
    manifest: dict[str, Any], validation_first: bool
) -> None:
    _, files = _example()
    cold = _cold(manifest["spec"], files)
    if validation_first:
        validation = _as_validation(manifest, files)
        certification = _as_certification(manifest, files)
    else:
        certification = _as_certification(manifest, files)
        validation = _as_validation(manifest, files)
    assert validation == cold
    assert certification == cold


def test_a_kept_answer_is_handed_out_as_a_copy() -> None:
    manifest, files = _example()
    first = _as_validation(manifest, files)
    first.append(Issue("Forged", "appended by a caller"))
    assert _as_certification(manifest, files) == first[:-1]
