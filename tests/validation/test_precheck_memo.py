"""Precheck of the same spec and files is worked out once, and never answers other ones.

The reconciler validates an offer (precheck, with the manifest's walk) and the
simulated marketplace then certifies the very payload (precheck again, on its
own): the second is answered from `scanmemo`, keyed by the marshalled spec and
files. Data that JSON would merge (a tuple and a list, a key 1 and a key "1",
another key order) is another question; data marshal cannot write (a date, a
Mapping that is no dict) is asked afresh every time.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import date
from types import MappingProxyType
from typing import Any

import pytest
from appsource_helpers import png
from precheck_helpers import LOGO, Counted, afresh, offer

from controller.marketplace import certify
from controller.marketplace.api import OfferPayload
from controller.validation import scanmemo
from controller.validation.precheck import precheck
from controller.validation.semantic import asset_refs
from controller.validation.strings import Strings


@pytest.fixture
def worked(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counted]:
    scanmemo.clear()
    yield Counted(monkeypatch, "_precheck")
    scanmemo.clear()


def test_certification_of_what_validation_just_prechecked_is_not_worked_out_again(
    worked: Counted,
) -> None:
    spec, files = offer()
    spec["listings"]["en-us"]["name"] = "TODO name"  # a finding, so the answer is not empty
    manifest = {"spec": spec}
    validated = precheck(spec, files, strings=Strings.of(manifest), refs=asset_refs(manifest))
    assert worked.count == 1
    certified = certify.certify(OfferPayload(spec=copy.deepcopy(spec), files=dict(files)))
    assert worked.count == 1  # equal data, other objects: the same question
    assert "PlaceholderText" in {i.code for i in validated}
    assert [f.code for f in certified if f.stage == "Certification"] == [i.code for i in validated]
    assert precheck(spec, files) == validated == afresh(spec, files)


def _variants() -> list[tuple[str, Any, dict[str, bytes]]]:
    """Pairs of questions JSON (or a digest of the files' names alone) would not tell apart,
    each with a different precheck answer."""
    spec, files = offer()
    listing = spec["listings"]["en-us"]
    out: list[tuple[str, Any, dict[str, bytes]]] = []

    as_list = copy.deepcopy(spec)
    as_list["listings"]["en-us"]["screenshots"] = [{"path": LOGO}]  # a 48x48 screenshot
    as_tuple = copy.deepcopy(as_list)
    as_tuple["listings"]["en-us"]["screenshots"] = ({"path": LOGO},)  # not a list: not read
    out += [("list", as_list, files), ("tuple", as_tuple, files)]

    str_key = copy.deepcopy(spec)
    str_key["listings"] = {"1": {**listing, "name": "TBD"}}
    int_key = copy.deepcopy(spec)
    int_key["listings"] = {1: {**listing, "name": "TBD"}}
    out += [("str-key", str_key, files), ("int-key", int_key, files)]

    ordered = copy.deepcopy(spec)
    ordered["listings"]["en-us"]["name"] = "TBD"
    ordered["listings"]["en-us"]["description"] = "<p>lorem ipsum</p>"
    reordered = copy.deepcopy(ordered)
    reordered["listings"]["en-us"] = dict(reversed(list(ordered["listings"]["en-us"].items())))
    out += [("order", ordered, files), ("reordered", reordered, files)]

    other_logo = {**files, LOGO: png(90, 90)}  # same name, other bytes
    out += [("logo", spec, files), ("other-logo", spec, other_logo)]
    return out


def test_data_json_would_merge_gets_its_own_answer(worked: Counted) -> None:
    variants = _variants()
    fresh = {name: afresh(spec, files) for name, spec, files in variants}
    for a, b in zip(list(fresh)[::2], list(fresh)[1::2], strict=True):
        assert fresh[a] != fresh[b], f"{a} and {b} must answer differently"
    scanmemo.clear()
    for _ in range(2):  # the memo filled by the first round answers the second
        for name, spec, files in variants:
            assert precheck(spec, files) == fresh[name], name
    assert worked.count == len(fresh) * 2  # the fresh round, then each variant once


@pytest.mark.parametrize("kind", ["date", "spec-proxy", "files-proxy"])
def test_data_marshal_cannot_write_is_worked_out_each_time(worked: Counted, kind: str) -> None:
    spec, files = offer()
    spec["listings"]["en-us"]["name"] = "TODO name"
    odds: dict[str, tuple[Any, Any]] = {
        "date": ({**spec, "published": date(2026, 1, 2)}, files),
        "spec-proxy": (MappingProxyType(spec), files),
        "files-proxy": (spec, MappingProxyType(files)),
    }
    odd_spec, odd_files = odds[kind]
    first = precheck(odd_spec, odd_files)
    assert precheck(odd_spec, odd_files) == first == precheck(spec, files)
    assert worked.count == 3  # nothing kept for the odd one (the plain one is its own question)
