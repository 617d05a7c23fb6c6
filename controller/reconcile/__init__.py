"""The reconcile pass and the controller's own records (docs/DESIGN.md §6).

The pass is its named steps, one module each: `scope`, `evaluate`, `converge`,
`land`, `record`, listed in order by `reconciler` (with `build_reconciler`);
`plan` is the read-only path; `types` holds the values passed between them;
`records` is what the controller decided per offer. This package imports
nothing, so `controller.reconcile.types` loads without git.
"""
