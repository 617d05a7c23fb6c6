"""Talking to the marketplace: the narrow interface and its implementations."""
