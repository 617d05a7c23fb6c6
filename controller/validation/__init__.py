"""Validation of offer manifests: safe loading, JSON Schema, and the checks a schema cannot express.

Entry points live in `engine`: `validate_offer`, `validate_repo`, `check_instance`.
"""
