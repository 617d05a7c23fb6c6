"""The one commit writer: the same tree as read-tree/update-index/write-tree, without an index."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from git_helpers import git
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.core.errors import FatalError
from controller.git import read
from controller.git.names import blob_oid
from controller.git.read import ObjectReader
from controller.git.runner import GitRunner
from controller.git.write import Identity, build_tree, store_blobs, write_commit

# hypothesis: the writer against git read-tree/write-tree on random change sets
pytestmark = pytest.mark.slow(budget=30)

# Files are named *.yaml and folders are not, so no change set turns a file into a folder.
FOLDERS = ["offers/a", "offers/b", "offers/c", "offers/a/media", "docs"]
NAMES = ["offer.yaml", "status.yaml", "x.yaml"]
PATHS = [f"{folder}/{name}" for folder in FOLDERS for name in NAMES] + ["publishing.yaml"]
CONTENT = st.sampled_from([b"", b"one\n", b"two\n", b"three\r\n", bytes(range(256))])


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GitRunner, ObjectReader]]:
    path = tmp_path_factory.mktemp("writer") / "repo"
    git(path.parent, "init", "-q", "-b", "main", str(path))
    runner = GitRunner(path)
    reader = ObjectReader(runner)
    yield runner, reader
    reader.close()


def _commit_of(runner: GitRunner, files: dict[str, bytes]) -> str:
    """A root commit holding `files`, made with git's own index (the reference path)."""
    store_blobs(runner, list(files.values()), "sha1")
    index = {"GIT_INDEX_FILE": str(runner.path / ".git" / "test-index")}  # type: ignore[operator]
    runner.run(["read-tree", "--empty"], env=index)
    records = b"".join(
        b"100644 %s\t%s\x00" % (blob_oid(d).encode(), p.encode()) for p, d in files.items()
    )
    runner.run(["update-index", "-z", "--index-info"], stdin=records, env=index)
    tree = runner.out("write-tree", env=index)
    return runner.out("commit-tree", tree, "-m", "base", env=Identity().env(0))


def _reference_tree(runner: GitRunner, base: str, changes: dict[str, bytes | None]) -> str:
    """What the old writer built: read-tree of the whole base, update-index, write-tree."""
    index = {"GIT_INDEX_FILE": str(runner.path / ".git" / "test-index")}  # type: ignore[operator]
    runner.run(["read-tree", base], env=index)
    zero = "0" * 40
    records = b"".join(
        (b"0 %s\t" % zero.encode() if d is None else b"100644 %s\t" % blob_oid(d).encode())
        + p.encode()
        + b"\x00"
        for p, d in changes.items()
    )
    runner.run(["update-index", "-z", "--index-info"], stdin=records, env=index)
    return runner.out("write-tree", env=index)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    base=st.dictionaries(st.sampled_from(PATHS), CONTENT, min_size=1),
    changes=st.dictionaries(st.sampled_from(PATHS), st.none() | CONTENT),
)
def test_the_writer_builds_the_tree_the_index_would(
    repo: tuple[GitRunner, ObjectReader],
    base: dict[str, bytes],
    changes: dict[str, bytes | None],
) -> None:
    runner, reader = repo
    base_commit = _commit_of(runner, base)
    store_blobs(runner, [d for d in changes.values() if d is not None], "sha1")
    base_tree = runner.out("rev-parse", f"{base_commit}^{{tree}}")
    expected = _reference_tree(runner, base_commit, changes)
    hashed = {p: None if d is None else blob_oid(d) for p, d in changes.items()}

    assert build_tree(runner, reader, base_tree, hashed) == expected

    commit = write_commit(runner, reader, base_commit, changes, "status", identity=Identity())
    if expected == base_tree:
        assert commit is None
    else:
        assert commit is not None
        assert runner.out("rev-parse", f"{commit}^{{tree}}") == expected
        assert runner.out("rev-parse", f"{commit}^") == base_commit


def test_a_commit_by_the_user_s_own_identity(repo: tuple[GitRunner, ObjectReader]) -> None:
    runner, reader = repo
    base = _commit_of(runner, {"offers/a/offer.yaml": b"one\n"})
    commit = write_commit(
        runner, reader, base, {"offers/a/signoff.yaml": b"ok\n"}, "Sign off", identity=None
    )
    assert commit is not None
    who = runner.out("log", "-1", "--format=%an <%ae>|%s", commit)
    assert who == "Pat Person <pat@example.com>|Sign off"  # the pinned test identity


@pytest.mark.parametrize("bad", ["../x", "offers/../x", "offers//x", ".git/config", "a/./b"])
def test_paths_a_tree_cannot_hold_are_refused(
    repo: tuple[GitRunner, ObjectReader], bad: str
) -> None:
    runner, reader = repo
    base = _commit_of(runner, {"a.yaml": b"x\n"})
    with pytest.raises(ValueError, match="not a path a commit can hold"):
        write_commit(runner, reader, base, {bad: b"x"}, "m", identity=Identity())


def test_the_writer_reads_only_the_trees_on_the_changed_paths(
    repo: tuple[GitRunner, ObjectReader], tmp_path: Path
) -> None:
    runner, reader = repo
    files = {f"offers/o{i:03d}/offer.yaml": b"x\n" for i in range(300)}
    base = _commit_of(runner, files)
    reads: list[str] = []
    original = reader.read

    def counting(oid: str, limit: int | None = None, *, kind: str = "") -> bytes:
        if kind == "tree":
            reads.append(oid)
        return original(oid, limit, kind=kind)

    reader.read = counting  # type: ignore[method-assign]
    try:
        write_commit(runner, reader, base, {"offers/o007/status.yaml": b"s\n"}, "m")
    finally:
        del reader.read
    assert len(reads) == 3  # the root, offers/ and offers/o007/: never the other 299


@pytest.mark.parametrize(
    "names",
    [
        ["a", "1 a", "x a", "b"],  # `SP a NUL` also ends two other names, one after digits
        ["0", "00", "0 0", "000 0"],  # names that look like modes
        ["a b", "b", "1 b", "4 b"],
    ],
)
def test_an_entry_named_inside_other_names_is_edited_in_place_correctly(
    repo: tuple[GitRunner, ObjectReader], names: list[str]
) -> None:
    runner, reader = repo
    files = {f"offers/{n}/offer.yaml": b"x\n" for n in names}
    files |= {f"offers/{n}": b"file\n" for n in ("9", "9 9")}
    base = _commit_of(runner, files)
    base_tree = runner.out("rev-parse", f"{base}^{{tree}}")
    for target in [*names[:2], "9"]:
        path = f"offers/{target}" if target == "9" else f"offers/{target}/offer.yaml"
        for change in ({path: b"new\n"}, {path: None}):
            store_blobs(runner, [d for d in change.values() if d is not None], "sha1")
            hashed = {p: None if d is None else blob_oid(d) for p, d in change.items()}
            expected = _reference_tree(runner, base, change)
            assert build_tree(runner, reader, base_tree, hashed) == expected, (target, change)


def test_find_entry_finds_only_whole_entries(repo: tuple[GitRunner, ObjectReader]) -> None:
    runner, reader = repo
    base = _commit_of(runner, {"7 a": b"1\n", "a": b"2\n", "b a": b"3\n"})
    tree = runner.out("rev-parse", f"{base}^{{tree}}")
    data = reader.read(tree, kind="tree")
    entries = reader.read_tree(tree)
    for name, raw in entries.items():
        found = reader.find_entry(data, name)
        assert found is not None
        assert data[found[0] : found[1]] == raw
    assert reader.find_entry(data, b"c") is None
    assert reader.find_entry(data, b" a") is None


def test_a_commit_changing_many_folders_reads_their_trees_in_batches(
    repo: tuple[GitRunner, ObjectReader], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full pass's status commit changes every offer folder: their trees are asked of git
    ASKS_AT_ONCE at a time (`read_many`), and the tree is the one git's index makes."""
    runner, reader = repo
    files = {f"offers/o{i:03d}/offer.yaml": b"x\n" for i in range(40)}
    files["offers/o007/media/logo.png"] = b"png"
    base = _commit_of(runner, files)
    monkeypatch.setattr(read, "ASKS_AT_ONCE", 16)
    one_by_one: list[str] = []
    batches: list[int] = []
    read_one, read_many = reader.read, reader.read_many

    def counting(oid: str, limit: int | None = None, *, kind: str = "") -> bytes:
        one_by_one.append(kind)
        return read_one(oid, limit, kind=kind)

    def batched(oids: Sequence[str], *, kind: str = "") -> Iterator[bytes]:
        batches.append(len(oids))
        return read_many(oids, kind=kind)

    monkeypatch.setattr(reader, "read", counting)
    monkeypatch.setattr(reader, "read_many", batched)
    changes: dict[str, bytes | None] = {
        f"offers/o{i:03d}/status.yaml": f"s{i}\n".encode() for i in range(40)
    }
    changes["offers/o007/media/logo.png"] = None
    commit = write_commit(runner, reader, base, changes, "m")
    assert commit is not None
    assert one_by_one.count("tree") == 2, "the root and offers/; the folders in batches"
    assert 40 in batches
    assert runner.out("rev-parse", f"{commit}^{{tree}}") == _reference_tree(runner, base, changes)


def test_read_many_answers_in_order_across_batches_and_survives_errors(
    repo: tuple[GitRunner, ObjectReader], monkeypatch: pytest.MonkeyPatch
) -> None:
    runner, reader = repo
    monkeypatch.setattr(read, "ASKS_AT_ONCE", 3)
    blobs = [f"blob {i}\n".encode() for i in range(8)]
    store_blobs(runner, blobs, "sha1")
    oids = [blob_oid(b) for b in blobs]
    assert list(reader.read_many(oids)) == blobs
    assert list(reader.read_many([])) == []
    missing = "0" * 39 + "1"
    with pytest.raises(FatalError, match="missing"):
        list(reader.read_many([oids[0], missing, oids[1], oids[2]]))
    assert reader.read(oids[3]) == blobs[3], "answers left unread never answer a later request"
    with pytest.raises(FatalError, match="not a tree"):
        list(reader.read_many(oids[:2], kind="tree"))
    assert reader.read(oids[4]) == blobs[4]
    stopped = reader.read_many(oids)
    assert next(stopped) == blobs[0]  # a caller that stops within a batch ...
    del stopped
    assert reader.read(oids[5]) == blobs[5]  # ... leaves nothing behind
    assert list(reader.read_many(oids[::-1])) == blobs[::-1]


def test_a_listing_of_many_folders_asks_each_shared_blob_s_size_once(
    repo: tuple[GitRunner, ObjectReader],
) -> None:
    """`shared` listings (every offer folder) ask sizes of `cat-file --batch-check`, each
    blob once: the same entries and sizes as `ls-tree -l`, a symlink's and a gitlink's
    included."""
    runner, _ = repo
    logo = bytes(range(256)) * 3
    files = {f"offers/o{i}/media/logo.png": logo for i in range(5)}
    files |= {f"offers/o{i}/offer.yaml": f"offer {i}\n".encode() for i in range(5)}
    base = _commit_of(runner, files)
    index = {"GIT_INDEX_FILE": str(runner.path / ".git" / "test-index")}  # type: ignore[operator]
    runner.run(["read-tree", base], env=index)
    store_blobs(runner, [b"offer.yaml"], "sha1")
    link, gitlink = blob_oid(b"offer.yaml"), "1" * 40  # a gitlink names a foreign commit
    runner.run(
        ["update-index", "-z", "--index-info"],
        stdin=f"120000 {link}\toffers/o1/alias\x00160000 {gitlink}\toffers/o2/sub\x00".encode(),
        env=index,
    )
    commit = runner.out("commit-tree", runner.out("write-tree", env=index), "-m", "x")
    with_l = read.ls_tree(runner, commit, ["offers"])
    shared = read.ls_tree(runner, commit, ["offers"], shared=True)
    assert shared == with_l
    assert shared["offers/o3/media/logo.png"].size == len(logo)
    assert shared["offers/o1/alias"].size == len(b"offer.yaml")
    assert shared["offers/o2/sub"].size == 0
    assert (
        read.ls_tree(runner, commit, ["offers"], sizes=False, shared=True)[
            "offers/o3/offer.yaml"
        ].size
        == 0
    )


def test_a_shared_listing_of_a_tree_missing_a_blob_fails(
    repo: tuple[GitRunner, ObjectReader],
) -> None:
    runner, _ = repo
    index = {"GIT_INDEX_FILE": str(runner.path / ".git" / "test-index")}  # type: ignore[operator]
    runner.run(["read-tree", "--empty"], env=index)
    runner.run(
        ["update-index", "-z", "--index-info"],
        stdin=f"100644 {'2' * 40}\toffers/o/offer.yaml\x00".encode(),
        env=index,
    )
    tree = runner.out("write-tree", "--missing-ok", env=index)
    with pytest.raises(FatalError, match="missing"):
        read.ls_tree(runner, tree, ["offers"], shared=True)


def test_read_many_holds_at_most_its_byte_bound_and_asks_the_rest_again(
    repo: tuple[GitRunner, ObjectReader], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MANY_BYTES of answers held, the process goes with the answers not read and a
    new one answers the rest: in order, and an object larger than the bound still comes."""
    runner, reader = repo
    monkeypatch.setattr(read, "MANY_BYTES", 20)
    blobs = [f"many {i}\n".encode() for i in range(7)] + [b"x" * 50, b"after\n"]
    store_blobs(runner, blobs, "sha1")
    oids = [blob_oid(b) for b in blobs]
    started: list[int] = []
    start = runner.start

    def counting(args: list[str], **kwargs: object) -> object:
        started.append(1)
        return start(args, **kwargs)  # type: ignore[arg-type]

    reader.close()
    monkeypatch.setattr(runner, "start", counting)
    assert list(reader.read_many(oids)) == blobs
    assert len(started) >= 4, "three answers of 7 bytes fit in 20: a new process per three"
    assert reader.read(oids[0]) == blobs[0]


def test_read_many_past_its_bound_with_more_unread_than_a_pipe_holds(
    repo: tuple[GitRunner, ObjectReader], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answers left unread may be more than the pipe holds (git then blocks writing
    them): the process is killed, not waited on, and the rest asked again."""
    runner, reader = repo
    monkeypatch.setattr(read, "MANY_BYTES", 1)
    blobs = [bytes([i]) * 300_000 for i in range(4)]
    store_blobs(runner, blobs, "sha1")
    oids = [blob_oid(b) for b in blobs]
    blocked: list[bool] = []
    stop = read.stop

    def recording(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
        if proc is not None:
            try:  # killed first, it is gone at once; a git blocked on its pipe is not
                proc.wait(2.0)
                blocked.append(False)
            except subprocess.TimeoutExpired:
                blocked.append(True)
        stop(proc, timeout)

    monkeypatch.setattr(read, "stop", recording)
    assert list(reader.read_many(oids)) == blobs
    assert blocked and not any(blocked)
