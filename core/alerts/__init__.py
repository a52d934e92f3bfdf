"""The alert engine: rules as data, a pure lifecycle planner, a store in the platform DB, notifications.

    rules.py     the rules, their defaults and a deployment's overrides (LECTERN_ALERT_RULES)
    config.py    rules + notification receivers (LECTERN_ALERT_WEBHOOK_URLS) from Settings
    planner.py   observations + open alerts + now -> transitions (pending -> firing -> resolved)
    store.py     applies a plan in the caller's transaction, queues notifications; reads, ack, silence
    measures.py  the rules measured on the platform DB (webhooks, uploads, migration)
    notify.py    delivers queued notifications (Slack-compatible JSON POST, retried with backoff)

The warehouse rules are measured in warehouse/alerts.py, the budget rule in core/costs/alerts.py, the
reconciliation rules in sync/reconcile.py; the `alerts` sync job (sync/alerts.py) puts them together.
Nothing is imported here, so `core.costs` and `sync.reconcile` can use the planner's types cheaply.
"""
