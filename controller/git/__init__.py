"""The git boundary: the only code that starts git (docs/DESIGN.md §10)."""
