"""An offer's generation changes with its content and its id, and only with those."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core.generation import canonical_json, file_digest, generation, short

SPEC = {"type": "dynamics-365-customer-engagement", "target": "preview", "listings": {"a": 1}}
OFFER = "contoso-field-insights"


def test_equal_specs_in_any_key_order_have_one_generation() -> None:
    reordered = {"listings": {"a": 1}, "target": "preview", "type": SPEC["type"]}
    assert generation(SPEC, offer=OFFER) == generation(reordered, offer=OFFER)
    assert generation(SPEC, offer=OFFER).startswith("sha256:")


def test_a_content_edit_makes_a_new_generation() -> None:
    assert generation(SPEC, offer=OFFER) != generation({**SPEC, "listings": {"a": 2}}, offer=OFFER)


def test_raising_the_target_or_suspending_keeps_the_generation() -> None:
    assert generation(SPEC, offer=OFFER) == generation({**SPEC, "target": "live"}, offer=OFFER)
    assert generation(SPEC, offer=OFFER) == generation({**SPEC, "suspend": True}, offer=OFFER)


def test_a_replaced_asset_makes_a_new_generation() -> None:
    logo = {"media/logo.png": file_digest(b"one")}
    other = {"media/logo.png": file_digest(b"two")}
    assert generation(SPEC, logo, offer=OFFER) != generation(SPEC, other, offer=OFFER)
    assert generation(SPEC, logo, offer=OFFER) != generation(SPEC, offer=OFFER)


def test_the_same_spec_under_another_offer_id_is_another_generation() -> None:
    # A copied folder must not share the original's generation (issue 10): a
    # sign-off of the copy would otherwise approve the original's submission.
    logo = {"media/logo.png": file_digest(b"one")}
    assert generation(SPEC, logo, offer=OFFER) != generation(SPEC, logo, offer="contoso-clone")


def test_a_generation_without_an_offer_id_is_refused() -> None:
    with pytest.raises(ValueError, match="offer id"):
        generation(SPEC, offer="")


def test_short_form_drops_the_prefix() -> None:
    assert short("sha256:0123456789abcdef") == "0123456789ab"


# canonical_json is json.dumps's text (made from the C encoder directly), errors included.
JSON_LIKE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinities included
    | st.text(),  # any code point: surrogates and non-ASCII included
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=3), inner, max_size=4)
        | st.dictionaries(st.one_of(st.integers(), st.text(max_size=2)), inner, max_size=3)
        | st.sets(st.integers(), max_size=2)  # no JSON form: a TypeError
    ),
    max_leaves=12,
)


def _dumped(value: object, allow_nan: bool) -> tuple[str, str]:
    try:
        return "text", json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=allow_nan
        )
    except (TypeError, ValueError) as exc:
        return type(exc).__name__, str(exc)


def _canonical(value: object, allow_nan: bool) -> tuple[str, str]:
    try:
        return "text", canonical_json(value, allow_nan=allow_nan)
    except (TypeError, ValueError) as exc:
        return type(exc).__name__, str(exc)


@settings(max_examples=500, deadline=None)
@given(JSON_LIKE, st.booleans())
def test_canonical_json_is_json_dumps_text_and_errors(value: object, allow_nan: bool) -> None:
    assert _canonical(value, allow_nan) == _dumped(value, allow_nan)


def test_canonical_json_of_a_cycle_raises_as_json_dumps_does() -> None:
    cycle: list[object] = []
    cycle.append(cycle)
    assert _canonical(cycle, True) == _dumped(cycle, True)
    assert _canonical({"a": [1]}, True) == ("text", '{"a":[1]}')  # a fresh encoder after it
