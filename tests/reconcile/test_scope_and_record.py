"""The scope and record steps on a real repository: what the next pass starts from."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from git_helpers import GitRepos

from controller import __version__
from controller.git.repo import GitRepo
from controller.reconcile.record import (
    InFlight,
    load_state,
    record,
    save_state,
    state_path,
)
from controller.reconcile.scope import changed_offers, scope
from controller.reconcile.types import EVERY_OFFER, PassResult, Scope

KEY = "local/main"


@pytest.fixture
def repo(gitrepos: GitRepos) -> Iterator[GitRepo]:
    path = gitrepos.init(files={"offers/alpha/offer.yaml": "a: 1\n", "offers/beta/offer.yaml": "b"})
    with GitRepo(path) as opened:
        yield opened


def _result(base: str, in_flight: tuple[str, ...]) -> PassResult:
    return PassResult(base, None, True, ("alpha", "beta"), (), (), in_flight, {})


def test_record_then_scope_gives_the_changed_and_the_in_flight_offers(
    repo: GitRepo, gitrepos: GitRepos
) -> None:
    assert repo.worktree is not None
    first = gitrepos.head(repo.worktree)
    ref = GitRepo.reconciled_ref("main")
    record(repo, {ref: None}, KEY, _result(first, ("beta",)))
    assert repo.resolve(ref) == first
    assert load_state(repo, KEY) == InFlight(first, ("beta",))

    second = gitrepos.commit(repo.worktree, {"offers/gamma/offer.yaml": "c"})
    assert changed_offers(repo, first, second) == {"gamma"}
    assert scope(repo, second, first, load_state(repo, KEY)) == Scope(
        False, frozenset({"beta", "gamma"})
    )


def test_a_policy_change_or_a_state_of_another_commit_means_every_offer(
    repo: GitRepo, gitrepos: GitRepos
) -> None:
    assert repo.worktree is not None
    first = gitrepos.head(repo.worktree)
    save_state(repo, KEY, first, [])
    second = gitrepos.commit(repo.worktree, {"publishing.yaml": "prune: true\n"})

    assert changed_offers(repo, first, second) is None
    assert scope(repo, second, first, load_state(repo, KEY)) == EVERY_OFFER
    assert scope(repo, second, second, load_state(repo, KEY)) == EVERY_OFFER  # mismatched
    assert scope(repo, second, None, load_state(repo, KEY)) == EVERY_OFFER  # no ref


@pytest.mark.parametrize(
    "data",
    [
        {"version": 2, "controller": __version__, "commit": "c" * 40, "inflight": []},
        {"version": 1, "controller": "0.0.0-other", "commit": "c" * 40, "inflight": []},
        {"version": 1, "controller": __version__, "commit": "c" * 40, "inflight": "alpha"},
        {"version": 1, "controller": __version__, "commit": 7, "inflight": []},
        ["not", "a", "mapping"],
    ],
)
def test_a_state_file_this_offerctl_did_not_write_is_not_trusted(
    repo: GitRepo, data: object
) -> None:
    path = state_path(repo, KEY)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    assert load_state(repo, KEY) is None


def test_a_state_key_cannot_leave_the_state_folder(repo: GitRepo) -> None:
    path = state_path(repo, "../../escape/x")
    assert path.parent == repo.private_dir / "state"
