"""The bounded memo every cache of a pass uses: least recently used out, made once per key."""

from __future__ import annotations

from controller.core.kept import Kept


def test_the_least_recently_used_key_goes_first() -> None:
    kept: Kept[str, int] = Kept(2)
    kept.put("a", 1)
    kept.put("b", 2)
    assert kept.get("a") == 1  # "a" is now the most recent
    kept.put("c", 3)
    assert kept.get("b") is None
    assert (kept.get("a"), kept.get("c"), len(kept)) == (1, 3, 2)


def test_a_value_is_made_once_per_key_while_it_is_kept() -> None:
    kept: Kept[str, list[str]] = Kept(1)
    made: list[str] = []

    def make(key: str) -> list[str]:
        made.append(key)
        return [key]

    first = kept.get_or_make("a", lambda: make("a"))
    assert kept.get_or_make("a", lambda: make("a")) is first
    kept.get_or_make("b", lambda: make("b"))
    kept.get_or_make("a", lambda: make("a"))  # pushed out by "b": made again
    assert made == ["a", "b", "a"]


def test_pop_and_clear_forget() -> None:
    kept: Kept[str, int] = Kept(4)
    kept.put("a", 1)
    kept.put("b", 2)
    kept.pop("a")
    kept.pop("missing")
    assert kept.get("a") is None and kept.get("b") == 2
    kept.clear()
    assert len(kept) == 0


def test_a_weighed_memo_keeps_at_most_its_weight_least_recently_used_out() -> None:
    kept: Kept[str, str] = Kept(10, weigh=len, max_weight=6)
    kept.put("a", "xx")
    kept.put("b", "xx")
    assert kept.get("a") == "xx"  # "a" is now the most recent
    kept.put("c", "xxx")  # 7 > 6: "b", the least recently used, goes
    assert (kept.get("b"), kept.get("a"), kept.get("c"), kept.weight) == (None, "xx", "xxx", 5)
    kept.put("a", "x")  # replaced: its old weight is given back
    assert kept.weight == 4
    kept.put("huge", "x" * 7)  # heavier than the bound alone: not kept, nothing evicted
    assert (kept.get("huge"), len(kept), kept.weight) == (None, 2, 4)
    kept.put("d", "xx")
    kept.pop("d")
    assert kept.weight == 4


def test_values_go_least_recent_first_until_their_sizes_fit_the_byte_bound() -> None:
    kept: Kept[str, str] = Kept(100, max_weight=10)
    kept.put("a", "a", weight=4)
    kept.put("b", "b", weight=4)
    assert kept.get("a") == "a"  # "b" is now the least recently used
    kept.put("c", "c", weight=4)
    assert (kept.get("a"), kept.get("b"), kept.get("c")) == ("a", None, "c")
    assert kept.weight == 8


def test_a_value_larger_than_the_byte_bound_is_not_kept_and_evicts_nothing() -> None:
    kept: Kept[str, str] = Kept(100, max_weight=10)
    kept.put("a", "a", weight=6)
    kept.put("huge", "huge", weight=11)
    assert (kept.get("a"), kept.get("huge"), kept.weight) == ("a", None, 6)


def test_putting_a_key_again_counts_only_its_new_size() -> None:
    kept: Kept[str, str] = Kept(100, max_weight=10)
    kept.put("a", "a", weight=6)
    kept.put("a", "A", weight=3)
    kept.put("b", "b", weight=7)
    assert (kept.get("a"), kept.get("b"), kept.weight) == ("A", "b", 10)
    kept.pop("a")
    assert kept.weight == 7


def test_a_round_over_more_keys_than_it_holds_empties_the_memo_and_keeps_nothing() -> None:
    """Least recently used out, asked about more keys than it holds in the same order
    round after round, a memo never hits: it keeps nothing until a round it can hold."""
    kept: Kept[str, str] = Kept(2, weigh=len, max_weight=100)
    kept.put("a", "x")
    kept.expect(3)
    assert (len(kept), kept.weight, kept.get("a")) == (0, 0, None)
    kept.put("a", "x")
    assert kept.get_or_make("b", lambda: "y") == "y"
    assert (len(kept), kept.weight) == (0, 0)
    kept.expect(2)
    kept.put("a", "x")
    assert kept.get("a") == "x"
