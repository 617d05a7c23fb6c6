"""The replayed-sign-off rule, without git (docs/DESIGN.md §5, "A replaced history").

Commits are letters: L is the last reconciled commit, S a sign-off's
introducing commit on the judged tip's first-parent history.
"""

from __future__ import annotations

import pytest

from controller.signoff import replay
from controller.signoff.replay import Lineage, Replay

L = "1" * 40
S = "5" * 40
OLDER = "0" * 40
NEW = "a" * 40
M = "b" * 40
T = "c" * 40


class TestLineage:
    """Whether L is still on the tip's first-parent history, from rev-list's answer."""

    def test_the_tip_itself_keeps_the_history(self) -> None:
        assert replay.lineage(L, L, ()) == Lineage(L, True, frozenset())

    def test_commits_on_top_of_l_keep_the_history(self) -> None:
        since = [(T, (NEW,)), (NEW, (L, OLDER))]  # NEW's first parent is L: a normal merge

        found = replay.lineage(T, L, since)

        assert found == Lineage(L, True, frozenset({T, NEW}))

    def test_a_merge_whose_first_parent_is_older_than_l_replaces_the_history(self) -> None:
        since = [(M, (S, L))]  # the fast-forwarded merge: first parent S, second parent L

        found = replay.lineage(M, L, since)

        assert not found.kept
        assert found.newer == frozenset({M})

    def test_a_tip_l_descends_from_replaces_the_history(self) -> None:
        # The branch moved back: rev-list lists nothing, and the tip is not L.
        assert replay.lineage(OLDER, L, ()) == Lineage(L, False, frozenset())

    def test_a_root_commit_l_cannot_reach_replaces_the_history(self) -> None:
        assert not replay.lineage(T, L, [(T, ())]).kept


REPLACED = Lineage(L, False, frozenset({M, NEW}))
KEPT = Lineage(L, True, frozenset({NEW}))


@pytest.mark.parametrize(
    ("lineage", "introducing", "at_reconciled", "distrusted"),
    [
        pytest.param(None, S, None, False, id="no-last-reconciled-commit-judges-as-before"),
        pytest.param(KEPT, S, None, False, id="kept-history-judges-as-before"),
        pytest.param(REPLACED, NEW, None, False, id="introduced-after-l-judges-as-before"),
        pytest.param(REPLACED, S, S, False, id="same-introduction-as-at-l-counts"),
        pytest.param(REPLACED, S, None, True, id="revoked-at-l-is-replayed"),
        pytest.param(REPLACED, S, OLDER, True, id="superseded-at-l-is-replayed"),
    ],
)
def test_replayed(
    lineage: Lineage | None, introducing: str, at_reconciled: str | None, distrusted: bool
) -> None:
    found = replay.replayed(lineage, introducing, at_reconciled=at_reconciled)

    assert (found == Replay(introducing, L)) is distrusted
    assert (found is None) is not distrusted


class TestRemembered:
    """A replay found once holds while the same commit introduces the sign-off."""

    def test_a_remembered_replay_holds_once_the_history_is_kept_again(self) -> None:
        earlier = Replay(S, OLDER)

        assert replay.replayed(KEPT, S, at_reconciled=None, remembered=earlier) == earlier
        assert replay.replayed(None, S, at_reconciled=None, remembered=earlier) == earlier

    def test_a_new_introduction_is_judged_as_before(self) -> None:
        earlier = Replay(S, OLDER)

        assert replay.replayed(KEPT, NEW, at_reconciled=None, remembered=earlier) is None

    def test_only_a_new_replay_is_written_down(self) -> None:
        found = replay.verdict(Replay(S, L), "sha256:" + "0" * 64)

        assert replay.to_remember(found, L, None) == Replay(S, L)
        assert replay.to_remember(found, T, Replay(S, L)) is None
        assert replay.to_remember(None, L, None) is None


def test_the_verdict_says_what_happened_and_what_to_do() -> None:
    found = replay.verdict(Replay(S, L), "sha256:" + "0" * 64)

    assert not found.valid
    assert found.reason == "SignOffReplayed"
    assert found.commit == S
    assert f"introduced by {S[:12]} before the branch's history was replaced" in found.message
    assert f"no longer contains {L[:12]}" in found.message
    assert "approve it again" in found.message
