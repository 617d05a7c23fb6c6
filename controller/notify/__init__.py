"""Notifications to the operator's targets (e-mail, Teams, Slack, webhooks) through apprise.

`events` decides, purely, which events an offer's status calls for; `ledger`
remembers which were sent (so each goes out once, across restarts and
shards); `sender` delivers them off the reconcile path, rate-limited, and
never lets a failing target stop a pass. See docs/DESIGN.md, "Notifications".
"""
