"""`arb notify`: Alertmanager's webhook in, a short text out to Slack / Discord / Telegram (docs/operations.md "Alerts")."""
