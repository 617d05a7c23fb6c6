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
    kept.put("huge", "x" * 7)  # heavier than the bound alone: nothing is kept
    assert (len(kept), kept.weight) == (0, 0)
    kept.put("d", "xx")
    kept.pop("d")
    assert kept.weight == 0
