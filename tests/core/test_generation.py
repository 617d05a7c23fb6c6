"""An offer's generation changes with its content and its id, and only with those."""

from __future__ import annotations

import pytest

from controller.core.generation import file_digest, generation, short

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
