"""Reusing validation verdicts (controller.reconcile.reuse) over real git repositories.

The inner validator is the real one (`default_validate`), counted; a hit must
not call it and must read no blob, and must give exactly what validating
afresh gives. Anything validation read that changes must be a miss.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from example_offers import offer_files
from git_helpers import GitRepos

from controller.git.repo import GitRepo
from controller.git.tree import GitTreeFiles
from controller.reconcile import reuse
from controller.reconcile.evaluate import default_validate
from controller.reconcile.reuse import DB_NAME, Kept, VerdictStore, reusing, validator_identity
from controller.reconcile.types import OfferCheck
from controller.validation.files import FileSource

OFFER = "reuse-offer"
FOLDER = f"offers/{OFFER}"


class Counted:
    """The real validator, counting its calls (the seam a hit must not reach)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, files: FileSource, offer: str) -> OfferCheck:
        self.calls += 1
        return default_validate(files, offer)


class Probe:
    """Validate the offer at a repository's HEAD through one store, counting blob reads."""

    def __init__(self, repo: Path, cache: Path, identity: str | None = None) -> None:
        self.repo, self.inner = repo, Counted()
        self.store = VerdictStore(cache, identity)
        self.check = reusing(self.inner, self.store)
        self.blob_reads = 0

    def run(self, *, read_spec: bool = True) -> tuple[OfferCheck, dict[str, bytes]]:
        with GitRepo(self.repo) as repo:
            tree = repo.snapshot(repo.resolve("HEAD") or "")

            def counted(oid: str) -> bytes:
                self.blob_reads += 1
                return tree.read_blob(oid)

            files = GitTreeFiles(dataclasses.replace(tree, read_blob=counted))
            result = self.check(files, OFFER)
            reads = self.blob_reads
            assets = dict(result.files)  # a submission reads them: lazily, on a hit
            if read_spec:  # and the spec, within the pass (`reuse.LazySpec`)
                dict(result.spec)
            self.check.flush()  # as a pass ends: its verdicts are written
            self.blob_reads = reads
            return result, assets


def _fresh(repo: Path) -> tuple[OfferCheck, dict[str, bytes]]:
    with GitRepo(repo) as git_repo:
        tree = git_repo.snapshot(git_repo.resolve("HEAD") or "")
        result = default_validate(GitTreeFiles(tree), OFFER)
        return result, dict(result.files)


def _same(a: OfferCheck, b: OfferCheck) -> None:
    assert (a.generation, a.target, a.suspend) == (b.generation, b.target, b.suspend)
    assert a.findings == b.findings
    assert dict(a.spec) == dict(b.spec)


@pytest.fixture
def repo(gitrepos: GitRepos) -> Path:
    return gitrepos.init("repo", {**offer_files(OFFER, "preview"), "README.md": b"hello\n"})


@pytest.fixture
def probe(repo: Path, tmp_path: Path) -> Iterator[Probe]:
    made = Probe(repo, tmp_path / "cache")
    yield made
    made.store.close()


def test_an_unchanged_offer_is_not_validated_again_and_reads_no_blob(
    gitrepos: GitRepos, repo: Path, probe: Probe
) -> None:
    first, _ = probe.run()
    assert probe.inner.calls == 1 and probe.blob_reads > 0
    gitrepos.commit(repo, {"README.md": b"changed elsewhere\n"})
    probe.blob_reads = 0
    second, assets = probe.run()
    assert probe.inner.calls == 1, "a hit must not validate"
    assert probe.blob_reads == 0, "a hit must read no blob"
    fresh, fresh_assets = _fresh(repo)
    _same(second, fresh)
    _same(second, first)
    assert assets == fresh_assets and assets, "the lazily read assets are the committed bytes"


def test_a_new_process_reuses_what_an_earlier_one_stored(repo: Path, tmp_path: Path) -> None:
    Probe(repo, tmp_path / "cache").run()
    again = Probe(repo, tmp_path / "cache")
    again.run()
    assert again.inner.calls == 0


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param({f"{FOLDER}/media/logo-48.png": b"not a png"}, id="asset-bytes"),
        pytest.param({f"{FOLDER}/package/fabrikam-case-triage.zip": None}, id="asset-removed"),
        pytest.param({f"{FOLDER}/offer.yaml": "manifest"}, id="manifest"),
        pytest.param({"publishing.yaml": b"prune: true\n"}, id="policy"),
    ],
)
def test_a_change_to_anything_validation_read_is_a_miss(
    gitrepos: GitRepos, repo: Path, probe: Probe, edit: dict[str, bytes | str | None]
) -> None:
    probe.run()
    files: dict[str, bytes | None] = {}
    for path, value in edit.items():
        if value == "manifest":
            text = (repo / path).read_text(encoding="utf-8")
            files[path] = text.replace("    alias: ", "    alias: Renamed ", 1).encode()
        else:
            files[path] = value if not isinstance(value, str) else value.encode()
    gitrepos.commit(repo, files)
    second, assets = probe.run()
    assert probe.inner.calls == 2, "validation must run again"
    fresh, fresh_assets = _fresh(repo)
    _same(second, fresh)
    assert assets == fresh_assets


def test_a_file_that_appears_where_validation_found_none_is_a_miss(
    gitrepos: GitRepos, repo: Path, probe: Probe
) -> None:
    package = f"{FOLDER}/package/fabrikam-case-triage.zip"
    data = (repo / package).read_bytes()
    gitrepos.commit(repo, {package: None})
    missing, _ = probe.run()
    assert any(f.code == "FileMissing" or "package" in f.message for f in missing.findings)
    gitrepos.commit(repo, {package: data})
    back, _ = probe.run()
    assert probe.inner.calls == 2
    _same(back, _fresh(repo)[0])
    assert back.generation != missing.generation


def test_an_invalid_offer_reuses_its_findings_with_their_lines(
    gitrepos: GitRepos, repo: Path, probe: Probe
) -> None:
    manifest = f"{FOLDER}/offer.yaml"
    text = (repo / manifest).read_text(encoding="utf-8")
    gitrepos.commit(repo, {manifest: text.replace("  target: preview", "  target: nowhere", 1)})
    first, _ = probe.run()
    assert first.findings and all(f.line > 0 for f in first.findings if f.file)
    gitrepos.commit(repo, {"README.md": b"other\n"})
    second, _ = probe.run()
    assert probe.inner.calls == 1
    _same(second, first)


def test_another_validator_identity_never_reuses(repo: Path, tmp_path: Path) -> None:
    Probe(repo, tmp_path / "cache", identity="offerctl-old").run()
    newer = Probe(repo, tmp_path / "cache", identity=validator_identity())
    newer.run()
    assert newer.inner.calls == 1


def test_a_corrupt_store_is_a_miss_and_is_started_again(repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / DB_NAME).write_bytes(b"this is not an sqlite database" * 100)
    broken = Probe(repo, cache)
    result, _ = broken.run()
    assert broken.inner.calls == 1
    _same(result, _fresh(repo)[0])
    broken.run()  # the store was set aside and made again: now a hit
    assert broken.inner.calls == 1
    with sqlite3.connect(cache / DB_NAME) as db:
        assert db.execute("SELECT count(*) FROM verdicts").fetchone() == (1,)


def test_a_tampered_entry_is_a_miss_not_an_error(repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    Probe(repo, cache).run()
    with sqlite3.connect(cache / DB_NAME) as db:
        db.execute("UPDATE verdicts SET body = '{\"questions\": 5}'")
    again = Probe(repo, cache)
    result, _ = again.run()
    assert again.inner.calls == 1
    _same(result, _fresh(repo)[0])


def test_a_spec_json_cannot_carry_is_validated_every_time(
    gitrepos: GitRepos, repo: Path, probe: Probe
) -> None:
    manifest = f"{FOLDER}/offer.yaml"
    text = (repo / manifest).read_text(encoding="utf-8")
    # (Keys are text: the loader refuses others. A NaN is the value JSON text cannot
    # give back equal: json.loads makes another NaN, unequal to the first.)
    gitrepos.commit(repo, {manifest: text.replace("spec:\n", "spec:\n  extra: .nan\n", 1)})
    first, _ = probe.run()
    assert first.generation, "the spec has a canonical form"
    probe.run()
    assert probe.inner.calls == 2, "a NaN does not come back from JSON equal: not kept"
    _same(first, _fresh(repo)[0])


def _kept(size: int = 10) -> Kept:
    check = OfferCheck("sha256:0", None, False, (), {"pad": "x" * size})
    return Kept([(("read", "offers/a/offer.yaml", 1), ["100644", "0" * 40, 1])], check, {})


def test_the_oldest_written_verdicts_go_past_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reuse, "MAX_ENTRIES", 2)
    store = VerdictStore(tmp_path, "identity")
    for offer in ("first", "second", "third"):
        store.put(offer, _kept())
    store.put("second", _kept())  # written again: now the newest
    store.put("fourth", _kept())
    store.flush()
    assert [o for o in ("first", "second", "third", "fourth") if store.get(o)] == [
        "second",
        "fourth",
    ]
    store.close()


def test_a_verdict_over_the_size_bound_is_not_kept(tmp_path: Path) -> None:
    store = VerdictStore(tmp_path, "identity")
    store.put("small", _kept())
    store.put("large", _kept(reuse.MAX_BODY_BYTES))
    assert store.get("small") is not None
    assert store.get("large") is None
    store.close()


def test_an_unchanged_offer_is_answered_from_memory_without_the_store(
    gitrepos: GitRepos, repo: Path, probe: Probe
) -> None:
    probe.run()
    probe.store.close()
    for suffix in ("", "-wal", "-shm"):  # a store read now would be a miss
        Path(f"{probe.store._path}{suffix}").unlink(missing_ok=True)
    gitrepos.commit(repo, {"README.md": b"changed outside the folder\n"})
    second, assets = probe.run(read_spec=False)  # a settle pass: its spec is never read
    assert probe.inner.calls == 1 and probe.store.hits == 1
    fresh, fresh_assets = _fresh(repo)
    assert (second.generation, second.target, second.findings) == (
        fresh.generation,
        fresh.target,
        fresh.findings,
    )
    assert assets == fresh_assets


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param({f"{FOLDER}/media/logo-48.png": b"not a png"}, id="asset-bytes"),
        pytest.param({"publishing.yaml": b"prune: true\n"}, id="policy"),
    ],
)
def test_memory_never_answers_for_an_offer_whose_reads_changed(
    gitrepos: GitRepos, repo: Path, probe: Probe, edit: dict[str, bytes]
) -> None:
    probe.run()
    probe.run()  # answered from memory
    gitrepos.commit(repo, edit)
    second, assets = probe.run()
    assert probe.inner.calls == 2, "validation must run again"
    fresh, fresh_assets = _fresh(repo)
    _same(second, fresh)
    assert assets == fresh_assets


def test_a_file_validation_never_read_leaves_the_verdict_reusable(
    gitrepos: GitRepos, repo: Path, probe: Probe
) -> None:
    probe.run()
    gitrepos.commit(repo, {f"{FOLDER}/notes.txt": b"not named by the manifest\n"})
    second, _ = probe.run()  # new folder entries: not from memory, but the store's answers hold
    assert probe.inner.calls == 1
    _same(second, _fresh(repo)[0])


def _pass_reading_the_spec(probe: Probe, repo: Path) -> tuple[OfferCheck, dict[str, Any]]:
    """One check, its spec read while the repository is open (as a submitting pass does)."""
    with GitRepo(repo) as git_repo:
        result = probe.check(GitTreeFiles(git_repo.snapshot(git_repo.resolve("HEAD") or "")), OFFER)
        return result, dict(result.spec)


def test_a_verdict_kept_in_memory_holds_no_spec_and_reads_it_back_when_asked(
    repo: Path, probe: Probe
) -> None:
    """A settle pass reads no spec; a pass that submits gets it from the store, and each
    pass's spec is its own (never kept decoded in memory)."""
    first, _ = probe.run()
    second, second_spec = _pass_reading_the_spec(probe, repo)  # from memory
    third, _ = probe.run(read_spec=False)
    assert isinstance(second.spec, reuse.LazySpec) and isinstance(third.spec, reuse.LazySpec)
    assert second.spec is not third.spec
    assert second_spec == dict(first.spec) == dict(_fresh(repo)[0].spec)
    assert probe.inner.calls == 1, "the spec came back from the store, not from validating"
    assert third.spec._decoded is None, "reading the second pass's spec must not read the third's"


def test_a_spec_the_store_lost_is_validated_again_from_the_commit(repo: Path, probe: Probe) -> None:
    first, _ = probe.run()
    probe.store.close()
    for suffix in ("", "-wal", "-shm"):  # the store forgets the verdict
        Path(f"{probe.store._path}{suffix}").unlink(missing_ok=True)
    _, spec = _pass_reading_the_spec(probe, repo)  # from memory, the spec from validating
    assert spec == dict(first.spec)
    assert probe.inner.calls == 2, "with the store gone, the spec comes from validating again"


def test_a_stored_spec_that_is_not_an_object_is_a_miss(tmp_path: Path) -> None:
    store = VerdictStore(tmp_path / "cache")
    check = OfferCheck("sha256:" + "a" * 64, None, False, (), {"a": 1}, {})
    assert store.put("o", Kept([], check, {})) is not None
    store.flush()
    db = sqlite3.connect(tmp_path / "cache" / DB_NAME)
    (spec,) = db.execute("SELECT spec FROM verdicts").fetchone()
    db.execute("UPDATE verdicts SET spec = ?", ("[" + spec[1:],))
    db.commit()
    db.close()
    assert store.get("o") is None
    store.close()


def test_a_pass_over_more_offers_than_the_memo_holds_asks_the_store(
    repo: Path, probe: Probe, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A memo smaller than a pass's offers would never hit (see `Reusing`): it is left out,
    its verdicts dropped, and the store answers; a small pass brings it back."""
    probe.run()
    asked: list[str] = []
    get = probe.store.get
    monkeypatch.setattr(probe.store, "get", lambda offer: asked.append(offer) or get(offer))
    probe.check.expect(reuse.MEMO_ENTRIES + 1)
    assert len(probe.check.memos) == 0
    probe.run()
    assert asked == [OFFER] and probe.inner.calls == 1  # the store's verdict, no validation
    assert len(probe.check.memos) == 0, "nothing is remembered while the passes are large"
    probe.check.expect(1)
    probe.run(read_spec=False)  # from the store, remembered again
    probe.run(read_spec=False)  # from memory
    assert asked == [OFFER, OFFER] and probe.inner.calls == 1


def test_verdicts_are_written_together_at_flush_and_read_back_before_it(tmp_path: Path) -> None:
    """A pass's verdicts wait in memory and are written in one transaction when it ends; a
    verdict put is answered by its own store at once, by another process only after."""
    store, other = VerdictStore(tmp_path, "identity"), VerdictStore(tmp_path, "identity")
    kept = store.put("a", _kept())
    assert kept is not None and store.get("a") is not None
    assert other.get("a") is None, "not written before the flush"
    store.flush()
    again = other.get("a")
    assert again is not None and again.size == kept.size
    assert dict(again.check.spec) == {"pad": "x" * 10}
    store.close()
    other.close()


def test_many_verdicts_put_without_a_flush_are_written_in_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reuse, "PENDING_ENTRIES", 3)
    store, other = VerdictStore(tmp_path, "identity"), VerdictStore(tmp_path, "identity")
    for offer in ("a", "b", "c", "d"):
        store.put(offer, _kept())
    assert [o for o in "abcd" if other.get(o)] == ["a", "b", "c"]
    store.close()  # closing flushes the rest
    assert [o for o in "abcd" if other.get(o)] == ["a", "b", "c", "d"]
    other.close()


def test_a_store_of_an_older_layout_is_started_afresh(tmp_path: Path) -> None:
    """A verdicts table another offerctl made (another `SCHEMA_VERSION`) is dropped: its
    rows would only be misses, and its columns are not this version's."""
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("CREATE TABLE verdicts (offer TEXT PRIMARY KEY, identity TEXT, body TEXT)")
    db.execute("INSERT INTO verdicts VALUES ('a', 'identity', '{}')")
    db.commit()
    db.close()
    store = VerdictStore(tmp_path, "identity")
    assert store.get("a") is None
    assert store.put("a", _kept()) is not None
    store.flush()
    assert VerdictStore(tmp_path, "identity").get("a") is not None
    store.close()
