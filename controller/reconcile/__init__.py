"""The reconcile pass and the controller's own records (docs/DESIGN.md §6)."""
