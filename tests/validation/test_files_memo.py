"""The files' findings of precheck are worked out once per question: the refs and the bytes.

Offers made from one template name the same files in the same slots while their
texts differ: each is its own question for precheck as a whole, but the files'
findings (`precheck.file_issues`) are kept by what they read, every ref's fields
and every file's name and SHA-256, and asked once. Anything else that could
change them is another question; data marshal cannot write is asked every time.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from appsource_helpers import png
from precheck_helpers import LOGO, Counted, afresh, offer

from controller.validation import scanmemo
from controller.validation.precheck import file_issues, precheck
from controller.validation.semantic import AssetRef, asset_refs
from controller.validation.zipscan import EICAR


@pytest.fixture
def worked(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counted]:
    scanmemo.clear()
    yield Counted(monkeypatch, "check_files")
    scanmemo.clear()


def test_offers_that_differ_in_text_only_work_out_their_files_once(worked: Counted) -> None:
    spec, files = offer()
    files[LOGO] = png(90, 90)  # a finding among the files: the small logo slot is 48x48
    answers = [precheck(_renamed(spec, n), dict(files)) for n in range(3)]
    assert worked.count == 1
    for n, answer in enumerate(answers):
        codes = [i.code for i in answer]
        assert "PngSize" in codes and "PlaceholderText" in codes, codes
        assert answer == afresh(_renamed(spec, n), files)


def _renamed(spec: dict[str, Any], n: int) -> dict[str, Any]:
    """A copy of the offer with texts of its own (one a placeholder finding)."""
    other = copy.deepcopy(spec)
    other["offerSetup"]["alias"] = f"Copy {n}"
    other["listings"]["en-us"]["name"] = f"TODO {n}"
    return other


def _variants() -> list[tuple[str, dict[str, Any], dict[str, bytes]]]:
    """Pairs of questions that share the files' names, each pair answered differently."""
    spec, files = offer()
    out: list[tuple[str, dict[str, Any], dict[str, bytes]]] = []
    as_logo = copy.deepcopy(spec)
    as_screenshot = copy.deepcopy(spec)  # the same file in another slot (another size)
    as_screenshot["listings"]["en-us"]["screenshots"][0]["path"] = LOGO
    out += [("as-logo", as_logo, files), ("as-screenshot", as_screenshot, files)]
    out += [("clean", spec, files), ("infected", spec, {**files, LOGO: EICAR})]
    other_lang = copy.deepcopy(spec)  # the same refs under another listing: other paths
    other_lang["listings"] = {"en-gb": other_lang["listings"]["en-us"]}
    bad_logo = {**files, LOGO: png(90, 90)}
    out += [("en-us", spec, bad_logo), ("en-gb", other_lang, bad_logo)]
    return out


def test_anything_the_files_findings_read_is_part_of_the_question(worked: Counted) -> None:
    variants = _variants()
    fresh = {name: afresh(spec, files) for name, spec, files in variants}
    for a, b in zip(list(fresh)[::2], list(fresh)[1::2], strict=True):
        assert fresh[a] != fresh[b], f"{a} and {b} must answer differently"
    scanmemo.clear()
    before = worked.count
    for _ in range(2):
        for name, spec, files in variants:
            text = copy.deepcopy(spec)
            text["offerSetup"]["alias"] = f"{name} again"  # precheck's own memo misses
            assert precheck(text, files) == fresh[name], name
    assert worked.count - before == len(set(fresh) - {"clean"})  # "clean" is "as-logo"'s


def test_the_question_holds_every_field_of_a_ref() -> None:
    """A field added to AssetRef must be added to `_files_question` as well."""
    names = [f.name for f in dataclasses.fields(AssetRef)]
    assert names == ["path", "file", "what", "png_size"]


class _Text(str):
    """Text that is not exactly str: marshal cannot write it."""


def test_refs_marshal_cannot_write_are_worked_out_every_time(worked: Counted) -> None:
    spec, files = offer()
    manifest = {"spec": spec}
    refs = [dataclasses.replace(r, file=_Text(r.file)) for r in asset_refs(manifest)]
    first = file_issues(spec, files, refs=refs)
    assert file_issues(spec, files, refs=refs) == first == file_issues(spec, files)
    assert worked.count == 3  # twice for the odd refs, once for the plain ones
