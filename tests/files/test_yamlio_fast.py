"""yamlio's shortcuts give the same text and data as PyYAML's own paths."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.files import yamlio

# Scalars YAML reads as something else unless quoted: the emitter must quote them.
_TRICKY = st.sampled_from(
    [
        "",
        "no",
        "yes",
        "true",
        "null",
        "~",
        "1",
        "0x1f",
        "1.5",
        "1e3",
        ".inf",
        "2026-01-01",
        "a: b",
        "- x",
        "#c",
        "'q'",
        '"d"',
        "x\ny",
        "x\n",
        " lead",
        "trail ",
        "é ü",
        "\u202e",
        "*a",
    ]
)
_SCALARS = st.one_of(
    st.text(max_size=30), _TRICKY, st.integers(-(10**12), 10**12), st.booleans(), st.none()
)
_PLAIN: st.SearchStrategy[Any] = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


def _by_representer(data: Any) -> str:
    return yaml.dump(
        data,
        Dumper=yamlio._BlockDumper,
        default_flow_style=False,
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )


@settings(max_examples=80, deadline=None)
@given(_PLAIN)
def test_dumped_plain_data_is_byte_identical_to_the_representers(data: Any) -> None:
    assert yamlio._node_of(data) is not None
    assert yamlio.dump_yaml(data) == _by_representer(data)


@settings(max_examples=50, deadline=None)
@given(_PLAIN)
def test_dumped_text_loads_back_as_the_same_data(data: Any) -> None:
    text = yamlio.dump_yaml({"root": data})
    assert yamlio.load_yaml(text.encode("utf-8"), name="t").document == {"root": data}
    assert yamlio.load_yaml(text.encode("utf-8"), name="t").document == yaml.safe_load(text)


def test_shared_or_other_objects_take_the_representer_and_the_same_text() -> None:
    shared = {"a": 1}
    for data in ({"x": shared, "y": shared}, {"f": 1.5}, {"t": (1, 2)}):
        assert yamlio._node_of(data) is None
        assert yamlio.dump_yaml(data) == _by_representer(data)
    assert "&id001" in yamlio.dump_yaml({"x": shared, "y": shared})
