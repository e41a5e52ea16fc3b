"""Slack incoming webhooks: a Block Kit message with the alert's facts and a button to it."""

from __future__ import annotations

import json
from typing import Any

import httpx

from vigil.application.delivery import AttemptResult, DeliveryOrder
from vigil.domain.subscription import Destination
from vigil.infrastructure.delivery.http_replies import post
from vigil.infrastructure.delivery.webhook import IDEMPOTENCY_KEY
from vigil.infrastructure.delivery.wording import console_link, facts, headline, step_text

SLACK_FIELDS = ("Severity", "Score", "Source", "Entity")


def slack_message(order: DeliveryOrder, public_url: str) -> dict[str, Any]:
    link = console_link(public_url, order.alert.alert_id)
    shown = [(name, value) for name, value in facts(order) if name in SLACK_FIELDS]
    return {
        "text": f"{headline(order)}: {link}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": headline(order)[:150]}},
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{name}*\n{value}"} for name, value in shown
                ],
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": step_text(order)}]},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open the alert"},
                        "url": link,
                        "action_id": "open_alert",
                    }
                ],
            },
        ],
    }


class SlackChannel:
    """Implements `Channel` for Slack's incoming webhooks (any 2xx is delivered)."""

    def __init__(self, client: httpx.AsyncClient, public_url: str) -> None:
        self.client = client
        self.public_url = public_url

    async def send(
        self, order: DeliveryOrder, destination: Destination, seconds: float
    ) -> AttemptResult:
        body = json.dumps(slack_message(order, self.public_url)).encode()
        headers = {"Content-Type": "application/json", IDEMPOTENCY_KEY: order.key}
        return await post(self.client, destination.url or "", body, headers, seconds)
