"""Channels that deliver escalations: signed webhooks, Slack incoming webhooks, email over SMTP."""
