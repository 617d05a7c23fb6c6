"""spec.suspend set by changing one line of a person's offer.yaml, and nothing else."""

from __future__ import annotations

import difflib

import pytest

from controller.core.errors import UserError
from controller.files.suspendedit import lines_of, set_suspend

HAND_WRITTEN = (
    "# yaml-language-server: $schema=../../schemas/offer.schema.json\n"
    "apiVersion: offers.marketplace/v1   # keep this comment\n"
    "kind: Offer\n"
    "metadata: {name: demo-offer}\n"
    "spec:\n"
    "    type: dynamics-365-customer-engagement\n"
    "\n"
    "    target:   live    # publish after sign-off\n"
    "    offerSetup:\n"
    "      alias: 'Demo'\n"
)


def changed_lines(before: bytes, after: bytes) -> list[str]:
    diff = difflib.ndiff(before.decode().splitlines(True), after.decode().splitlines(True))
    return [line for line in diff if line[:2] in ("- ", "+ ")]


def test_inserts_one_line_after_target_at_specs_indentation() -> None:
    before = HAND_WRITTEN.encode()
    after = set_suspend(before, True, name="offer.yaml")
    assert after is not None
    assert changed_lines(before, after) == ["+     suspend: true\n"]
    assert after.decode().index("suspend") > after.decode().index("publish after sign-off")


def test_flips_an_existing_value_and_keeps_its_comment_and_case() -> None:
    before = HAND_WRITTEN.replace(
        "    offerSetup:", "    suspend: True  # incident 42\n    offerSetup:"
    )
    after = set_suspend(before.encode(), False, name="offer.yaml")
    assert after is not None
    assert changed_lines(before.encode(), after) == [
        "-     suspend: True  # incident 42\n",
        "+     suspend: False  # incident 42\n",
    ]


def test_yaml_11_yes_becomes_plain_false() -> None:
    after = set_suspend(b"spec:\n  suspend: yes\n  target: live\n", False, name="o")
    assert after == b"spec:\n  suspend: false\n  target: live\n"


def test_nothing_to_do_when_already_so() -> None:
    assert set_suspend(b"spec:\n  target: live\n", False, name="o") is None
    assert set_suspend(b"spec:\n  target: live\n  suspend: true\n", True, name="o") is None


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (
            b"spec:\r\n  target: live\r\n  type: x\r\n",
            b"spec:\r\n  target: live\r\n  suspend: true\r\n  type: x\r\n",
        ),
        (
            b"spec:\n  type: x\n  target: live",
            b"spec:\n  type: x\n  target: live\n  suspend: true\n",
        ),
        (b"\xef\xbb\xbfspec:\n  type: x\n", b"\xef\xbb\xbfspec:\n  suspend: true\n  type: x\n"),
    ],
    ids=["crlf", "no-final-newline", "bom-and-no-target"],
)
def test_line_endings_and_byte_order_mark_are_the_files_own(before: bytes, after: bytes) -> None:
    assert set_suspend(before, True, name="o") == after


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (b"spec: {target: live}\n", "not a block mapping"),
        (b"spec:\n  suspend: 'true'\n", "not true or false"),
        (b"spec: [1]\n", "no spec mapping"),
        (b"spec:\n  target: [unclosed\n", "fix the manifest"),
        (b"spec:\n  target: >\n    live\n", "edit it by hand"),
    ],
    ids=["flow", "quoted", "not-a-mapping", "broken", "block-scalar-target"],
)
def test_what_cannot_be_done_in_one_line_is_refused(text: bytes, why: str) -> None:
    with pytest.raises(UserError, match=why):
        set_suspend(text, True, name="offers/x/offer.yaml")


def test_lines_are_split_as_yaml_counts_them() -> None:
    assert lines_of("a\r\nb\rc\nd") == ["a\r\n", "b\r", "c\n", "d"]
