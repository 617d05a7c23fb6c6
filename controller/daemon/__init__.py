"""`offerctl run`: the long-running daemon and its parts.

Each module owns one idea: `workqueue` (what is due when), `triggers` (what
makes work due), `webhook` (verifying push notifications), `http` (the
health, readiness, metrics and webhook endpoints), `metrics`, `logging`,
`lock` (one daemon per checkout), `shard` (which offers are ours) and `loop`
(the `Daemon` that ties them to an injected reconcile pass).
"""
