"""The validation tests' fixture; helpers (BASE, png, write_assets) live in offer_helpers.py."""

from offer_helpers import write_offer

__all__ = ["write_offer"]
