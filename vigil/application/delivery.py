"""Delivering escalations: the order each (escalation, subscription) becomes, the ports that carry
orders and send them, and how long a failed attempt waits.

The deliver worker turns each Alert.Escalated notice of the DOMAIN stream into one order per
subscription it is for, and puts them on the ESCALATIONS stream (deduplicated by idempotency
key) before it acknowledges the notice; senders take orders from there. So a receiver that is
down or slow holds up only its own orders, never the notices, the scoring or other receivers.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from vigil.application.domain_events import DomainEventNotice
from vigil.domain.delivery import AttemptOutcome
from vigil.domain.subscription import Destination


@dataclass(frozen=True)
class AlertSummary:
    """What a receiver is told of the alert."""

    alert_id: UUID
    severity: str
    score: float
    source: str
    model_line: str
    entity_id: str | None
    record_id: str
    raised_at: datetime


@dataclass(frozen=True)
class DeliveryOrder:
    """One escalation to tell one subscription; the message on `<root>.escalations.<channel>`.
    It carries no destination: senders read the subscription's current one, secrets included,
    from the event store."""

    key: str
    delivery_id: UUID
    tenant_id: str
    channel: str
    subscription_id: UUID
    subscription: str
    alert: AlertSummary
    policy: str | None
    step_after_minutes: int | None
    occurrence: int | None
    level: int
    reason: str
    escalated_at: datetime
    escalation_version: int

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), default=str, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, payload: bytes) -> DeliveryOrder:
        body: dict[str, Any] = json.loads(payload)
        alert = body.pop("alert")
        alert.update(
            alert_id=UUID(alert["alert_id"]), raised_at=datetime.fromisoformat(alert["raised_at"])
        )
        body.update(
            delivery_id=UUID(body["delivery_id"]),
            subscription_id=UUID(body["subscription_id"]),
            escalated_at=datetime.fromisoformat(body["escalated_at"]),
        )
        return cls(alert=AlertSummary(**alert), **body)


@dataclass(frozen=True)
class AttemptResult:
    outcome: AttemptOutcome
    status: int | None = None
    """The receiver's HTTP or SMTP reply code, when it answered."""
    error: str = ""


class Channel(Protocol):
    """Sends one order to its destination, within `seconds`; never raises for the
    receiver's faults: they are the result."""

    async def send(
        self, order: DeliveryOrder, destination: Destination, seconds: float
    ) -> AttemptResult: ...


class Pending(Protocol):
    """A stream message being worked on: acknowledged once its effect is recorded."""

    async def ack(self) -> None: ...

    async def retry_in(self, seconds: float) -> None:
        """Hands it back, to come again after `seconds`."""
        ...

    async def working(self) -> None:
        """Tells the stream the work goes on, so it is not handed to another worker yet."""
        ...


class PendingNotice(Pending, Protocol):
    @property
    def notice(self) -> DomainEventNotice: ...


class PendingOrder(Pending, Protocol):
    @property
    def order(self) -> DeliveryOrder: ...


class EscalationNotices(Protocol):
    """Alert.Escalated notices of the DOMAIN stream, for one durable consumer."""

    async def next_batch(self, most: int, wait_seconds: float) -> Sequence[PendingNotice]: ...


class DeliveryOrders(Protocol):
    """The ESCALATIONS stream: fanned-out orders, their senders' feed and the dead letters."""

    async def publish(self, orders: Sequence[DeliveryOrder]) -> None:
        """Returns once the stream stored every order (or held it already, by its key)."""
        ...

    async def next_batch(self, most: int, wait_seconds: float) -> Sequence[PendingOrder]: ...

    async def dead_letter(self, order: DeliveryOrder, reason: str) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    first_delay_seconds: float = 5.0
    longest_delay_seconds: float = 600.0

    def delay_after(self, attempt: int, draw: Callable[[], float] = random.random) -> float:
        """Exponential, with half of it jittered, so receivers coming back are not stampeded."""
        growth: float = 2.0 ** (attempt - 1)
        ceiling = min(self.longest_delay_seconds, self.first_delay_seconds * growth)
        return ceiling / 2 + ceiling / 2 * draw()


def alert_summary(alert: Any) -> AlertSummary:
    """The summary of an Alert aggregate (typed loosely: any object with its fields)."""
    return AlertSummary(
        alert_id=alert.id,
        severity=str(alert.severity),
        score=float(alert.score),
        source=alert.source,
        model_line=alert.model_line,
        entity_id=alert.entity_id,
        record_id=alert.record_id,
        raised_at=alert.created_on,
    )
