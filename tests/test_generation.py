"""An offer's generation changes with its content, and only with its content."""

from __future__ import annotations

from controller.generation import file_digest, generation, short

SPEC = {"type": "dynamics-365-customer-engagement", "target": "preview", "listings": {"a": 1}}


def test_equal_specs_in_any_key_order_have_one_generation() -> None:
    reordered = {"listings": {"a": 1}, "target": "preview", "type": SPEC["type"]}
    assert generation(SPEC) == generation(reordered)
    assert generation(SPEC).startswith("sha256:")


def test_a_content_edit_makes_a_new_generation() -> None:
    assert generation(SPEC) != generation({**SPEC, "listings": {"a": 2}})


def test_raising_the_target_or_suspending_keeps_the_generation() -> None:
    assert generation(SPEC) == generation({**SPEC, "target": "live"})
    assert generation(SPEC) == generation({**SPEC, "suspend": True})


def test_a_replaced_asset_makes_a_new_generation() -> None:
    logo = {"media/logo.png": file_digest(b"one")}
    assert generation(SPEC, logo) != generation(SPEC, {"media/logo.png": file_digest(b"two")})
    assert generation(SPEC, logo) != generation(SPEC)


def test_short_form_drops_the_prefix() -> None:
    assert short("sha256:0123456789abcdef") == "0123456789ab"
