"""The pure core: the offer model, the stage state machine, ETA, generation, planning, errors.

Nothing here does I/O (docs/DESIGN.md §10).
"""
