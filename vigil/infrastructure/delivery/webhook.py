"""Generic webhooks: the escalation as JSON, signed with the subscription's secret.

`Vigil-Signature: sha256=<hex>` is HMAC-SHA256 under the secret of `<Vigil-Timestamp>.<body>`
(the timestamp's decimal digits, a dot, the body's exact bytes), so a receiver can refuse a body
replayed with another timestamp. `Vigil-Idempotency-Key` is the same on every attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import httpx

from vigil.application.delivery import AttemptResult, DeliveryOrder
from vigil.domain.subscription import Destination
from vigil.infrastructure.delivery.http_replies import post
from vigil.infrastructure.delivery.wording import console_link

SIGNATURE = "Vigil-Signature"
TIMESTAMP = "Vigil-Timestamp"
IDEMPOTENCY_KEY = "Vigil-Idempotency-Key"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def webhook_body(order: DeliveryOrder, public_url: str) -> dict[str, Any]:
    alert = order.alert
    return {
        "idempotency_key": order.key,
        "tenant": order.tenant_id,
        "alert_id": str(alert.alert_id),
        "severity": alert.severity,
        "score": alert.score,
        "source": alert.source,
        "model_line": alert.model_line,
        "entity_id": alert.entity_id,
        "record_id": alert.record_id,
        "raised_at": alert.raised_at.isoformat(),
        "escalated_at": order.escalated_at.isoformat(),
        "level": order.level,
        "reason": order.reason,
        "policy": order.policy,
        "step_after_minutes": order.step_after_minutes,
        "occurrence": order.occurrence,
        "subscription": order.subscription,
        "link": console_link(public_url, alert.alert_id),
    }


class WebhookChannel:
    """Implements `Channel` for signed generic webhooks."""

    def __init__(
        self, client: httpx.AsyncClient, public_url: str, now: Callable[[], float]
    ) -> None:
        self.client = client
        self.public_url = public_url
        self.now = now

    async def send(
        self, order: DeliveryOrder, destination: Destination, seconds: float
    ) -> AttemptResult:
        body = json.dumps(webhook_body(order, self.public_url), separators=(",", ":")).encode()
        timestamp = int(self.now())
        headers = {
            "Content-Type": "application/json",
            SIGNATURE: signature(destination.secret or "", timestamp, body),
            TIMESTAMP: str(timestamp),
            IDEMPOTENCY_KEY: order.key,
        }
        return await post(self.client, destination.url or "", body, headers, seconds)
