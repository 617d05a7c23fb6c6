"""One shared walk of a manifest's strings finds exactly what each check's own walk found.

The references in walk_reference.py are the checks as they were when each
walked the document itself. Over generated manifests (offer-shaped, with
secrets, links of every scheme, placeholders, keys that are not text, lists
where mappings belong, values under address keys) and over the shipped
examples, the shared-walk checks must give the same issues in the same order:
the semantic checks, `secret_paths`, precheck with and without the caller's
walk, and the engine's merge of schema and semantic findings.
"""

from __future__ import annotations

import copy
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
import walk_reference as ref
from cases import CASES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from offer_helpers import BASE, OFFER_ID, png

from controller.files.yamlio import YamlError, load_yaml
from controller.validation import engine, precheck, semantic
from controller.validation.strings import Strings

REPO = Path(__file__).resolve().parents[2]

# Keys the checks look at, keys they skip, and keys that are not text at all.
KEY_NAMES = [
    "spec", "listings", "en-us", "de-de", "name", "description", "url", "email", "path",
    "thumbnail", "helpLink", "logos", "large", "caption", "screenshots", "videos",
    "contacts", "support", "packageFile", "packageLocationUrl", "sasTokenSecretRef",
    "technicalConfiguration", "properties", "legal", "privacyPolicyUrl", "searchKeywords",
    "metadata", "clientSecret", "",
]  # fmt: skip
KEYS = st.sampled_from(KEY_NAMES) | st.integers(-1, 2) | st.none() | st.booleans()
PIECES = [
    "http://example.com/a?x=1#f", "https://ok.example", "ftp://files.example", "HTTP://X.Y",
    "https://user:pw@host.example/p", "https://h.example/p?sig=abc&sv=1", "?token=t",
    "://", "TODO", "todo", "ToDo", "TBD", "FIXME", "XXX", "Lorem  ipsum", "lorem ipsum",
    "placeholder", "Coming soon", "[insert name]", "[İnsert x]", "\u212a", "İ", "\u017f",
    "AccountKey=abc", "password=hunter2", "AKIAABCDEFGHIJKLMNOP", "ghp_" + "a" * 36,
    "xoxb-0123456789", "eyJabcdefghi.eyJabcdefghi.", "-----BEGIN PRIVATE KEY-----",
    "CONTOSO_SAS", "media/logo.png", "<p>", "</p>", " ", "\n", "é", "\u202e",
]  # fmt: skip
TEXT = st.lists(st.sampled_from(PIECES) | st.text(max_size=5), max_size=6).map("".join)
SCALARS = TEXT | st.integers(-5, 5) | st.none() | st.booleans() | st.floats(allow_nan=False)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=25,
)
# A listing's own keys: text, and the addresses and file names placeholders skip.
LISTING_KEYS = st.sampled_from(
    [
        *("name", "description", "caption", "url", "email", "phone", "path", "thumbnail"),
        *("helpLink", "logos", "screenshots", "videos", "contacts", "usefulLinks"),
    ]
)
LISTING = st.dictionaries(LISTING_KEYS | KEYS, VALUES, max_size=8) | VALUES
LISTINGS = st.dictionaries(
    st.sampled_from(["en-us", "de-de", "url", "logos", "x"]) | st.integers(0, 1) | st.none(),
    LISTING,
    max_size=3,
)
SPEC = st.fixed_dictionaries(
    {},
    optional={
        "listings": LISTINGS | VALUES,
        "technicalConfiguration": st.dictionaries(KEYS, VALUES, max_size=4),
        "properties": VALUES,
        "url": TEXT,
    },
)
MANIFESTS = st.fixed_dictionaries(
    {"spec": SPEC},
    optional={"metadata": st.dictionaries(KEYS, VALUES, max_size=3), "kind": TEXT, 7: TEXT},
)


def _loaded(data: bytes) -> Any:
    try:
        return load_yaml(data, name="x").document
    except YamlError:
        return None


def _examples() -> list[Any]:
    found = [load_yaml(BASE.encode(), name="x").document]
    found += [load_yaml(p.read_bytes(), name="x").document for p in REPO.glob("offers/*/*.yaml")]
    found += [_loaded(data) for _, data, *_ in CASES]
    return [doc for doc in found if isinstance(doc, dict)]


EXAMPLES = _examples()


def _files(manifest: dict[str, Any]) -> dict[str, bytes]:
    """The files a manifest names, as small PNGs (the scan and PNG checks see real bytes)."""
    return {r.file: png(48, 48) for r in semantic.asset_refs(manifest)}


def _assert_same(manifest: dict[str, Any]) -> None:
    before = copy.deepcopy(manifest)
    strings = Strings.of(manifest)
    assert semantic.check_manifest(manifest, OFFER_ID) == ref.check_manifest(manifest, OFFER_ID)
    assert semantic.check_manifest(manifest, OFFER_ID, strings) == ref.check_manifest(
        manifest, OFFER_ID
    )
    assert semantic.secret_paths(manifest) == ref.secret_paths(manifest)
    assert semantic.secret_paths(manifest, strings) == ref.secret_paths(manifest)
    spec = manifest.get("spec")
    content: list[Any] = []
    if isinstance(spec, dict):
        files = _files(manifest)
        expected = ref.precheck(spec, files)
        assert precheck.precheck(spec, files) == expected
        refs = semantic.asset_refs(manifest)
        assert precheck.precheck(spec, files, strings=strings, refs=refs) == expected
        content = expected
    assert _outcome(engine._manifest_issues, manifest, OFFER_ID, list(content), strings) == (
        _outcome(ref.manifest_issues, manifest, OFFER_ID, list(content))
    )
    assert manifest == before  # nothing is changed by looking


def _outcome(function: Any, *args: Any) -> Any:
    """What `function` returns, or the type of what it raises: jsonschema's explanation
    of a mapping with a key that is not text (YAML's `~: x`) raises TypeError, before and
    after the shared walk alike."""
    try:
        return function(*args)
    except TypeError as exc:
        return type(exc)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MANIFESTS)
def test_generated_manifests_get_the_same_issues_in_the_same_order(
    manifest: dict[str, Any],
) -> None:
    _assert_same(manifest)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(EXAMPLES), st.lists(st.tuples(st.integers(0, 10_000), VALUES), max_size=4))
def test_real_offers_with_hostile_values_planted_get_the_same_issues(
    base: dict[str, Any], plants: list[tuple[int, Any]]
) -> None:
    """A shipped or test offer with values replaced at places chosen among its own."""
    manifest = copy.deepcopy(base)
    for choice, value in plants:
        containers = _containers(manifest)
        holder, key = containers[choice % len(containers)]
        holder[key] = value
    _assert_same(manifest)


def _containers(document: Any) -> list[tuple[Any, Any]]:
    """(container, key or index) for every value in the document."""
    found: list[tuple[Any, Any]] = []
    stack = [document]
    while stack:
        value = stack.pop()
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            found.append((value, key))
            if isinstance(item, dict | list):
                stack.append(item)
    return found


@pytest.mark.parametrize("manifest", EXAMPLES)
def test_every_example_and_case_gets_the_same_issues(manifest: dict[str, Any]) -> None:
    _assert_same(manifest)


@settings(max_examples=300, deadline=None)
@given(SPEC, st.sampled_from([dict, MappingProxyType]))
def test_precheck_of_a_bare_spec_of_any_mapping_type_is_unchanged(spec: Any, kind: Any) -> None:
    """The marketplace's certification passes a spec with no walk: any Mapping, listings too."""
    listings = spec.get("listings")
    if isinstance(listings, dict):
        spec = {**spec, "listings": kind(listings)}
    spec = kind(spec)
    files = _files({"spec": spec}) if isinstance(spec, dict) else {}
    assert precheck.precheck(spec, files) == ref.precheck(spec, files)


@settings(max_examples=1000, deadline=None)
@given(TEXT | st.text())
def test_placeholder_pretest_is_exactly_any_marker_in_the_lowered_text(text: str) -> None:
    assert precheck.placeholder_in(text) == ref.placeholder_in(text)


@pytest.mark.parametrize(
    "listing",
    [
        {"name": "Lor", "description": "em ipsum"},  # a marker split across two texts
        {"name": "[ins", "caption": "ert name]", "x": ["TO", "DO"]},
        {"name": "\u0130nsert", "description": "ok", "url": "http://TODO"},
        {"name": "\u03a3", "description": "TBD\x00"},
        {"name": "plain", "description": "coming  soon", "videos": [{"caption": "xxx"}]},
    ],
)
def test_texts_are_pretested_together_with_the_same_findings(listing: dict[str, Any]) -> None:
    manifest = {"spec": {"listings": {"en-us": listing, "de-de": dict(reversed(listing.items()))}}}
    _assert_same(manifest)
    spec = manifest["spec"]
    assert list(precheck.placeholders(spec)) == list(ref.placeholders(spec))


def test_a_walk_made_for_precheck_refuses_to_answer_for_every_secret() -> None:
    """`Strings.of_spec` asks only links whether they are secrets: it cannot stand in for
    the manifest's walk where every secret counts (InlineSecret, never echoing one)."""
    spec = {"listings": {"en-us": {"url": "http://x.example/?sig=abc", "name": "pwd=hunter2"}}}
    bare = Strings.of_spec(spec)
    assert [path for path, _, _ in bare.secrets] == [("spec", "listings", "en-us", "url")]
    with pytest.raises(ValueError, match="only links"):
        bare.secret_paths()
    with pytest.raises(ValueError, match="only links"):
        semantic.check_strings({"spec": spec}, bare)
    whole = Strings.of({"spec": spec})
    assert (bare.links, bare.texts) == (whole.links, whole.texts)
    assert whole.secret_paths() == ref.secret_paths({"spec": spec})
