"""An offer folder's key (`tree.FolderKey`): equal exactly when its entries are equal."""

from __future__ import annotations

from controller.git.tree import TreeEntry, TreeIndex

OID_A, OID_B = "a" * 40, "b" * 40


def _key(*entries: tuple[str, str, str], offer: str = "x") -> bytes:
    index = TreeIndex({p: TreeEntry(p, mode, oid, 1) for p, mode, oid in entries})
    return index.folder(offer)


def test_equal_entries_give_equal_keys_in_any_listing_order() -> None:
    one = ("offers/x/offer.yaml", "100644", OID_A)
    two = ("offers/x/media/logo.png", "100644", OID_B)
    assert _key(one, two) == _key(two, one)
    assert len(_key(one, two)) == 32


def test_any_change_of_path_mode_or_blob_changes_the_key() -> None:
    base = _key(("offers/x/offer.yaml", "100644", OID_A))
    assert _key(("offers/x/offer.yaml", "100755", OID_A)) != base
    assert _key(("offers/x/offer.yaml", "120000", OID_A)) != base
    assert _key(("offers/x/offer.yaml", "100644", OID_B)) != base
    assert _key(("offers/x/offer.yml", "100644", OID_A)) != base
    assert _key(("offers/x/offer.yaml", "100644", OID_A), ("offers/x/a", "100644", OID_A)) != base


def test_names_cannot_be_shifted_across_the_separators() -> None:
    """A newline or a mode-like text in a name does not let two listings collide."""
    one = _key(("offers/x/a", "100644", OID_A), ("offers/x/b", "100644", OID_B))
    two = _key(("offers/x/a\x00100644", "100644", OID_A), ("offers/x/b", "100644", OID_B))
    three = _key(("offers/x/a\n", "100644", OID_A), ("offers/x/b", "100644", OID_B))
    assert len({one, two, three}) == 3


def test_other_folders_and_files_outside_do_not_count() -> None:
    mine = ("offers/x/offer.yaml", "100644", OID_A)
    assert _key(mine, ("offers/y/offer.yaml", "100644", OID_B), ("README.md", "100644", OID_B)) == (
        _key(mine)
    )
    assert _key(mine, offer="absent") == b""
