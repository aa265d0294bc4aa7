"""`arb notify`: Alertmanager's webhook in, a short text out to Slack / Discord / Telegram (README "Alerts")."""
