"""Fuzzing the untrusted-input path: bytes → load → validate → decide, and every other parser.

Each property feeds hostile input to one entry point and allows only its
documented outcome: validation returns findings (never raises), status and
policy parsing never raise, a sign-off parses or says why not. Every call is
also held to a time bound (a bomb or a quadratic path shows up as a slow
example, not as a hung CI job) and the manifest path to a memory bound.

Inputs are arbitrary bytes, and the shipped offers/*/offer.yaml texts mutated
with byte flips, truncations and YAML-significant tokens (anchors, aliases,
Python tags, merge keys, tabs, NUL, BOM, deep brackets, duplicated lines), so
most examples get past the parser into schema, semantic and asset checks.
Runs are derandomized with no example database, so CI sees the same examples
every time.
"""

from __future__ import annotations

import math
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from controller.core import pipeline
from controller.core.model import Finding, Phase, Severity, Target
from controller.marketplace.api import OfferListing
from controller.present.page import render_page
from controller.reconcile.reconciler import default_validate
from controller.repo import status
from controller.repo.policy import Policy, parse_policy
from controller.repo.statusread import OfferEntry
from controller.signoff.document import from_mapping, parse_signoff
from controller.validation.engine import OfferValidation, check_instance, validate_offer
from controller.validation.files import FileReadError, WorktreeFiles

# hypothesis fuzzing of every parser with hundreds of inputs each
pytestmark = pytest.mark.slow(budget=30)

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = {p.parent.name: p.read_bytes() for p in sorted((ROOT / "offers").glob("*/offer.yaml"))}
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
TIME_BOUND = 2.0  # seconds per call; real manifests validate in milliseconds
MEMORY_BOUND = 64 * 1024 * 1024  # peak bytes Python allocates while validating one manifest

FUZZ = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,  # asserted per call instead, with the monotonic clock
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

T = TypeVar("T")


def timed(call: Callable[[], T]) -> T:
    """Run `call` and fail the example if it takes longer than TIME_BOUND."""
    started = time.monotonic()
    result = call()
    elapsed = time.monotonic() - started
    assert elapsed < TIME_BOUND, f"took {elapsed:.2f} s (bound {TIME_BOUND} s)"
    return result


# ---------------------------------------------------------------- mutated manifests

TOKENS = (
    b"&a ",
    b"*a",
    b"&a [*a, *a, *a, *a, *a, *a, *a, *a, *a]",
    b"!!python/object/apply:os.system ['true'] ",
    b"!!python/name:os.system",
    b"!!binary aGVsbG8=",
    b"!!set {a, b}",
    b"!local ",
    b"<<: ",
    b"<<: *a\n",
    b"\t",
    b"\x00",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xc3",  # a truncated UTF-8 sequence
    b"\xe2\x80\xae",  # right-to-left override
    b"[" * 80,
    b"{" * 80,
    b"- " * 80,
    b"---\n",
    b"...\n",
    b"%YAML 1.1\n",
    b"? ",
    b": ",
    b"- ",
    b"|\n",
    b">-\n",
    b"'",
    b'"',
    b"#",
    b"\r",
    b"\n  ",
    b"no",
    b"010",
    b"0x1F",
    b"2026-11-24",
    b"1e400",
    b".nan",
    b"~",
    b"null",
    b"../../etc/passwd",
    b"/etc/passwd",
    b"\\u0000",
    # Keys YAML reads as null, bool, float or date: paths through them must still render.
    b"\n~: 1\n",
    b"\nnull: x\n",
    b"\ntrue: y\n",
    b"\n1.5: z\n",
    b"\n2026-01-01: d\n",
    b"\n  ~: 1\n",
    b"\n  - {null: 1, .inf: 2}\n",
)


@st.composite
def _mutate(draw: st.DrawFn, base: st.SearchStrategy[bytes]) -> bytes:
    data = bytearray(draw(base))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "dup-line"]))
        if kind == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.sampled_from(TOKENS) | st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif kind == "dup-line":
            # Repeating a line at its own indentation duplicates a key (or a list item).
            start = data.rfind(b"\n", 0, at) + 1
            end = data.find(b"\n", at)
            line = data[start : (len(data) if end < 0 else end + 1)]
            data[start:start] = line if line.endswith(b"\n") else line + b"\n"
    return bytes(data)


def mutated(base: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """`base` with one to six byte flips, truncations, deletions, token insertions or
    duplicated lines."""
    return _mutate(base)


def mutated_manifest() -> st.SearchStrategy[tuple[str, bytes]]:
    """A shipped offer id and its offer.yaml, mutated."""
    return st.sampled_from(sorted(SHIPPED)).flatmap(
        lambda offer: st.tuples(st.just(offer), mutated(st.just(SHIPPED[offer])))
    )


manifest_bytes = st.one_of(
    mutated_manifest(),
    mutated_manifest(),  # twice: most mutants still load, so they reach the deeper checks
    st.tuples(st.sampled_from(sorted(SHIPPED)), st.binary(max_size=4096)),
)


@pytest.fixture(scope="module", autouse=True)
def compiled_schemas() -> None:
    """Compile every schema before the first timed call: the bound is per call, not per process."""
    for name in ("offer", "status", "signoff", "publishing"):
        check_instance(name, {})


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shipped offers with their media and packages, rewritten per example."""
    root = tmp_path_factory.mktemp("fuzz-repo")
    for offer in SHIPPED:
        source = ROOT / "offers" / offer
        for path in source.rglob("*"):
            if path.is_file() and path.name != "status.yaml":
                target = root / "offers" / offer / path.relative_to(source)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(path.read_bytes())
    return root


def write_manifest(repo: Path, offer: str, data: bytes) -> None:
    (repo / "offers" / offer / "offer.yaml").write_bytes(data)


def assert_findings_well_formed(findings: tuple[Finding, ...]) -> None:
    for finding in findings:
        assert isinstance(finding, Finding)
        assert finding.code and isinstance(finding.code, str)
        assert finding.message and isinstance(finding.message, str)
        assert isinstance(finding.severity, Severity)


def bounded(call: Callable[[], T]) -> T:
    """`timed`, and fail the example if Python allocations peak above MEMORY_BOUND."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        result = timed(call)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        if not was_tracing:
            tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"peak allocation {peak:,} bytes (bound {MEMORY_BOUND:,})"
    return result


@FUZZ
@given(manifest_bytes)
def test_any_offer_yaml_bytes_give_findings_never_an_exception(
    repo: Path, case: tuple[str, bytes]
) -> None:
    offer, data = case
    write_manifest(repo, offer, data)
    files = WorktreeFiles(repo)
    result = bounded(lambda: validate_offer(f"offers/{offer}", files))
    assert isinstance(result, OfferValidation)
    event(f"manifest {'loaded' if result.manifest is not None else 'refused'}")
    event("first finding: " + (result.findings[0].code if result.findings else "none"))
    assert result.offer_id == offer
    assert_findings_well_formed(result.findings)
    if result.manifest is None:
        assert result.errors, "a manifest that did not load must say why"
    for finding in result.findings:
        assert finding.line >= 1 and finding.column >= 1, finding


@FUZZ
@given(mutated_manifest())
def test_mutated_manifests_flow_through_decide_to_a_status_that_reparses(
    repo: Path, case: tuple[str, bytes]
) -> None:
    offer, data = case
    write_manifest(repo, offer, data)
    check = timed(lambda: default_validate(WorktreeFiles(repo), offer))
    assert_findings_well_formed(check.findings)
    desired = pipeline.Desired(
        target=check.target or Target.DRAFT,
        generation=check.generation,
        suspend=check.suspend,
        findings=check.findings,
    )
    observed = pipeline.Observation(OfferListing(offer))
    decision = timed(
        lambda: pipeline.decide(pipeline.PipelineInput(offer, desired, None, observed), NOW)
    )
    if any(f.severity is Severity.ERROR for f in check.findings):
        # Rule 3: an invalid manifest is never submitted (suspend only changes the phase shown).
        assert decision.status.phase in {Phase.INVALID, Phase.SUSPENDED}
        assert not decision.effectful
    text = status.render(decision.status)
    assert status.parse(text.encode("utf-8")) == decision.status


# ---------------------------------------------------------------- status.yaml

times = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.dates().map(str),
    st.text(max_size=30),
    st.integers(),
    st.none(),
)


def enum_or_junk(values: Any) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from([str(v) for v in values]), st.text(max_size=12), st.integers())


def scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(),
        st.text(max_size=40),
    )


def usable_key(key: object) -> bool:
    """NaN never equals itself, so a dict cannot hold it as a key in a useful way."""
    return not (isinstance(key, float) and math.isnan(key))


def yaml_like(keys: st.SearchStrategy[Any] | None = None) -> st.SearchStrategy[Any]:
    """What a YAML loader can return: scalars, lists, and mappings with scalar keys."""
    key_strategy = keys if keys is not None else st.one_of(st.text(max_size=12), scalars())
    hashable_keys = key_strategy.filter(usable_key)
    return st.recursive(
        scalars(),
        lambda children: st.one_of(
            st.lists(children, max_size=5),
            st.dictionaries(hashable_keys, children, max_size=5),
        ),
        max_leaves=25,
    )


def entries(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[list[Any]]:
    entry = st.fixed_dictionaries({}, optional=fields)
    return st.lists(st.one_of(entry, yaml_like()), max_size=4)


status_documents = st.fixed_dictionaries(
    {},
    optional={
        "offer": st.one_of(st.just("contoso-field-insights"), st.text(max_size=20), scalars()),
        "phase": enum_or_junk(Phase),
        "target": enum_or_junk(Target),
        "observedGeneration": st.one_of(st.text(max_size=80), scalars()),
        "observedCommit": st.one_of(st.text(max_size=40), scalars()),
        "conditions": entries(
            {
                "type": enum_or_junk(
                    ["Ready", "Stalled", "SignedOff", "SignOffStale", "StageOverdue"]
                ),
                "status": enum_or_junk(["True", "False", "Unknown"]),
                "reason": st.one_of(st.text(max_size=20), scalars()),
                "message": st.one_of(st.text(max_size=60), scalars()),
                "lastTransitionTime": times,
            }
        ),
        "stages": entries(
            {
                "name": enum_or_junk(
                    ["Validation", "Certification", "Packaging", "SignOff", "Publishing", "Live"]
                ),
                "state": enum_or_junk(["Pending", "Running", "Succeeded", "Failed", "Skipped"]),
                "startedAt": times,
                "finishedAt": times,
                "deadline": times,
            }
        ),
        "submission": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "id": st.text(max_size=10),
                    "generation": st.text(max_size=10),
                    "idempotencyKey": st.text(max_size=10),
                    "target": enum_or_junk(Target),
                },
            ),
            yaml_like(),
        ),
        "feedback": entries(
            {
                "code": st.one_of(st.text(max_size=20), scalars()),
                "message": st.one_of(st.text(max_size=60), scalars()),
                "path": st.text(max_size=20),
                "stage": st.text(max_size=20),
                "severity": enum_or_junk(Severity),
                "file": st.text(max_size=20),
                "line": scalars(),
                "column": scalars(),
            }
        ),
        "estimatedLive": st.one_of(st.text(max_size=20), scalars()),
        "liveGeneration": st.one_of(st.text(max_size=20), scalars()),
        "previewUrl": st.one_of(st.text(max_size=40), scalars()),
        "signOff": st.one_of(
            st.fixed_dictionaries(
                {"valid": st.booleans()},
                optional={
                    "generation": st.text(max_size=20),
                    "reason": st.text(max_size=20),
                    "message": st.text(max_size=40),
                    "approvers": st.one_of(st.lists(scalars(), max_size=3), scalars()),
                    "commit": st.text(max_size=40),
                    "pullRequest": st.text(max_size=20),
                    "approvedAt": times,
                    "trust": st.text(max_size=20),
                },
            ),
            yaml_like(),
        ),
    },
)


def dumped(document: Any) -> bytes:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False).encode("utf-8")


status_bytes = st.one_of(
    st.binary(max_size=4096),
    status_documents.map(dumped),
    mutated(status_documents.map(dumped)),
)


@FUZZ
@given(status_bytes)
def test_any_status_yaml_bytes_parse_without_raising_and_reparse_after_render(
    data: bytes,
) -> None:
    parsed = timed(lambda: status.parse(data))
    if parsed is None:
        return
    again = status.parse(status.render(parsed).encode("utf-8"))
    assert again == parsed


@FUZZ
@given(yaml_like())
def test_any_loaded_value_gives_a_status_or_none(value: Any) -> None:
    parsed = status.from_dict(value)
    if parsed is not None:
        assert status.parse(status.render(parsed).encode("utf-8")) == parsed


# ---------------------------------------------------------------- policy and schemas


def _schema_words() -> tuple[list[str], list[Any]]:
    """Property names and const/enum values of every schema: keys that reach deep checks."""
    import json

    names: set[str] = {"en-us", "de-de"}
    values: list[Any] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, child in node.items():
                if key == "properties" and isinstance(child, dict):
                    names.update(child)
                if key == "const":
                    values.append(child)
                if key == "enum" and isinstance(child, list):
                    values.extend(child)
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    for path in sorted((ROOT / "schemas").glob("*.schema.json")):
        walk(json.loads(path.read_text(encoding="utf-8")))
    return sorted(names), [v for v in values if not isinstance(v, dict | list)]


SCHEMA_KEYS, SCHEMA_VALUES = _schema_words()
schema_shaped = st.recursive(
    st.one_of(scalars(), st.sampled_from(SCHEMA_VALUES)),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            # Schema names twice as often as junk keys, so checks below the top level run.
            st.one_of(st.sampled_from(SCHEMA_KEYS), st.sampled_from(SCHEMA_KEYS), scalars()).filter(
                usable_key
            ),
            children,
            max_size=6,
        ),
    ),
    max_leaves=30,
)
documents = st.one_of(yaml_like(), schema_shaped)


@FUZZ
@given(documents)
def test_any_loaded_value_gives_a_policy_and_findings_never_an_exception(value: Any) -> None:
    policy, findings = timed(lambda: parse_policy(value))
    assert isinstance(policy, Policy)
    assert_findings_well_formed(tuple(findings))
    if value is not None and not isinstance(value, dict):
        assert findings


@FUZZ
@given(st.sampled_from(["status", "signoff", "publishing", "offer"]), documents)
def test_any_loaded_value_checks_against_each_schema_without_raising(
    schema: str, value: Any
) -> None:
    findings = timed(lambda: check_instance(schema, value))
    assert_findings_well_formed(tuple(findings))


# ---------------------------------------------------------------- signoff.yaml

SIGNOFF = (
    b"apiVersion: offers.marketplace/v1\n"
    b"kind: SignOff\n"
    b"offer: contoso-field-insights\n"
    b"generation: sha256:" + b"ab" * 32 + b"\n"
    b"note: checked the preview\n"
)

signoff_bytes = st.one_of(
    st.binary(max_size=4096),
    mutated(st.just(SIGNOFF)),
    st.dictionaries(
        st.sampled_from(["apiVersion", "kind", "offer", "generation", "note"]), documents
    ).map(dumped),
)


@FUZZ
@given(signoff_bytes)
def test_any_signoff_yaml_bytes_give_a_document_or_a_reason(data: bytes) -> None:
    parsed = timed(lambda: parse_signoff(data, name="offers/x/signoff.yaml"))
    if parsed.document is None:
        assert parsed.error
    else:
        assert not parsed.error
        assert isinstance(parsed.document.offer, str)
        assert parsed.document.generation.startswith("sha256:")


@FUZZ
@given(
    st.dictionaries(
        st.one_of(st.text(max_size=12), scalars()).filter(usable_key), documents, max_size=6
    )
)
def test_any_loaded_mapping_gives_a_signoff_document_or_a_reason(value: dict[Any, Any]) -> None:
    parsed = from_mapping(value, name="signoff.yaml")
    assert (parsed.document is None) != (not parsed.error)


def test_the_unmutated_signoff_parses() -> None:
    assert parse_signoff(SIGNOFF, name="signoff.yaml").document is not None


# ---------------------------------------------------------------- regressions found by fuzzing


@pytest.mark.parametrize("key", ["~", "null", "true", "1.5", ".inf"])
def test_an_offer_key_yaml_reads_as_null_bool_or_float_is_refused_at_its_line(
    repo: Path, key: str
) -> None:
    # json_path raised TypeError on a None or float key, crashing validation of the offer;
    # then such a key was an unknown property, and under `listings` (key patterns) it still
    # crashed. The loader now refuses it, naming its line.
    offer = "northwind-loyalty-hub"
    manifest = SHIPPED[offer] + f"{key}: 1\n".encode()
    write_manifest(repo, offer, manifest)
    result = validate_offer(f"offers/{offer}", WorktreeFiles(repo))
    refused = [f for f in result.findings if f.code == "KeyNotText"]
    assert len(refused) == 1, result.findings
    assert refused[0].line == manifest.count(b"\n")


@pytest.mark.parametrize("key", [None, True, 1.5])
def test_a_publishing_or_signoff_key_that_is_not_text_gives_findings(key: object) -> None:
    document: dict[Any, Any] = {"apiVersion": "offers.marketplace/v1", key: 1}
    policy, findings = parse_policy(document)
    assert isinstance(policy, Policy)
    assert any(f.code == "UnknownProperty" for f in findings), findings
    assert check_instance("status", {key: 1})
    assert parse_signoff(SIGNOFF + b"~: 1\n", name="signoff.yaml").error


def test_reading_a_small_file_allocates_about_its_size_not_the_limit(tmp_path: Path) -> None:
    # read(limit + 1) allocated the whole limit: 200 MiB for every package read.
    (tmp_path / "package.zip").write_bytes(b"PK" + b"\0" * 1000)
    files = WorktreeFiles(tmp_path)
    tracemalloc.start()
    try:
        data = files.read("package.zip", 200 * 1024 * 1024)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(data) == 1002
    assert peak < 1024 * 1024, f"peak {peak:,} bytes"


@pytest.mark.parametrize(("size", "limit", "ok"), [(10, 10, True), (11, 10, False), (0, 10, True)])
def test_a_file_at_the_limit_is_read_and_one_byte_over_is_refused(
    tmp_path: Path, size: int, limit: int, ok: bool
) -> None:
    (tmp_path / "f").write_bytes(b"x" * size)
    files = WorktreeFiles(tmp_path)
    if ok:
        assert files.read("f", limit) == b"x" * size
    else:
        with pytest.raises(FileReadError) as caught:
            files.read("f", limit)
        assert caught.value.code == "FileTooLarge"


@settings(FUZZ, max_examples=40)  # the parse test above already walks 150 of these inputs
@given(status_bytes, st.text(max_size=30))
def test_any_status_renders_on_the_timeline_page_as_escaped_text(data: bytes, offer: str) -> None:
    """One hand-edited status.yaml can neither break the daemon's page nor put markup on it."""
    parsed = status.parse(data)
    entry = OfferEntry(offer or "x", parsed, "" if parsed else "unreadable")
    html = timed(lambda: render_page([entry], commit="ab" * 20, now=NOW))
    assert html.count("<script") == 0
    assert html.count("<style>") == 1
    assert html.endswith("</html>\n")
