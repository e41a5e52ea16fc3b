"""The Delivery aggregate: one escalation told to one subscription, attempt by attempt.

Its id comes from the alert, the Escalated event's version and the subscription, so the alert's
timeline finds its deliveries from its own events, and a fan-out repeated after a crash finds
the delivery it started. Its idempotency key is what receivers see: the same for every attempt,
so a receiver drops a repeat.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from vigil.domain.errors import DomainError
from vigil.domain.stamps import event_stamp
from vigil.domain.text import bounded_text, required_text

DELIVERY_NAMESPACE = UUID("d3a1f7c2-8e45-5b69-9c0d-4f2e7a6b1c58")
MAX_ERROR = 500


class DeliverySettled(DomainError):
    """A delivered or dead-lettered delivery takes no further attempt."""


class AttemptOutcome(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"
    """Worth trying again: a 5xx, 408 or 429, a timeout, a refused connection."""
    REFUSED = "refused"
    """Never worth trying again: a 4xx, a malformed destination, an address refused."""


def delivery_id(
    tenant_id: str, alert_id: UUID, escalation_version: int, subscription: UUID
) -> UUID:
    return uuid5(
        DELIVERY_NAMESPACE, f"{tenant_id}\x1f{alert_id}\x1f{escalation_version}\x1f{subscription}"
    )


def idempotency_key(
    alert_id: UUID,
    policy: str | None,
    step_after_minutes: int | None,
    occurrence: int | None,
    subscription: UUID,
    notification_id: int,
) -> str:
    """`<alert>:<policy>:<step>:<occurrence>:<subscription>`; an escalation by hand, which has
    no step, is named by its notification id: `<alert>:manual:<notification id>:<subscription>`."""
    if policy is None:
        return f"{alert_id}:manual:{notification_id}:{subscription}"
    return f"{alert_id}:{policy}:{step_after_minutes}:{occurrence}:{subscription}"


class Delivery(Aggregate):
    """Scheduled when the escalation is fanned out; each attempt's outcome on the record, then
    Delivered, or DeadLettered with the reason."""

    class Event(Aggregate.Event):
        tenant_id: str
        actor: str

    class Scheduled(Event, Aggregate.Created):
        alert_id: UUID
        escalation_version: int
        subscription_id: UUID
        subscription: str
        channel: str
        key: str

    def __init__(
        self,
        tenant_id: str,
        actor: str,
        alert_id: UUID,
        escalation_version: int,
        subscription_id: UUID,
        subscription: str,
        channel: str,
        key: str,
    ) -> None:
        self.tenant_id = tenant_id
        self.alert_id = alert_id
        self.escalation_version = escalation_version
        self.subscription_id = subscription_id
        self.subscription = subscription
        self.channel = channel
        self.key = key
        self.attempts = 0
        self.delivered = False
        self.dead_letter_reason: str | None = None

    @classmethod
    def schedule(
        cls,
        tenant_id: str,
        actor: str,
        at: datetime,
        alert_id: UUID,
        escalation_version: int,
        subscription_id: UUID,
        subscription: str,
        channel: str,
        key: str,
    ) -> Delivery:
        return cls._create(
            cls.Scheduled,
            id=delivery_id(tenant_id, alert_id, escalation_version, subscription_id),
            **event_stamp(tenant_id, actor, at),
            alert_id=alert_id,
            escalation_version=escalation_version,
            subscription_id=subscription_id,
            subscription=subscription,
            channel=channel,
            key=required_text("key", key),
        )

    @property
    def settled(self) -> bool:
        return self.delivered or self.dead_letter_reason is not None

    def check_not_settled(self) -> None:
        if self.settled:
            raise DeliverySettled(f"delivery {self.key} is settled already")

    def attempt(
        self,
        actor: str,
        at: datetime,
        outcome: AttemptOutcome,
        status: int | None,
        error: str,
        max_attempts: int,
    ) -> None:
        """Records the attempt, then Delivered; or DeadLettered when it was refused or it was
        the last one allowed."""
        self.check_not_settled()
        error = bounded_text("error", error[:MAX_ERROR])
        number = self.attempts + 1
        stamp = event_stamp(self.tenant_id, actor, at)
        self.trigger_event(
            self.Attempted,
            **stamp,
            attempt=number,
            outcome=str(outcome),
            status=status,
            error=error,
        )
        if outcome is AttemptOutcome.DELIVERED:
            self.trigger_event(self.Delivered, **stamp, attempt=number)
        elif outcome is AttemptOutcome.REFUSED:
            self.dead_letter(actor, at, f"refused on attempt {number}: {error}")
        elif number >= max_attempts:
            self.dead_letter(actor, at, f"failed {number} attempts; the last: {error}")

    def dead_letter(self, actor: str, at: datetime, reason: str) -> None:
        self.check_not_settled()
        self.trigger_event(
            self.DeadLettered,
            **event_stamp(self.tenant_id, actor, at, reason),
            attempts=self.attempts,
        )

    class Attempted(Event):
        attempt: int
        outcome: str
        status: int | None
        """The receiver's HTTP or SMTP status, when it answered."""
        error: str
        """Why it failed; empty when delivered."""

        def apply(self, delivery: Delivery) -> None:
            delivery.attempts = self.attempt

    class Delivered(Event):
        attempt: int

        def apply(self, delivery: Delivery) -> None:
            delivery.delivered = True

    class DeadLettered(Event):
        reason: str
        attempts: int

        def apply(self, delivery: Delivery) -> None:
            delivery.dead_letter_reason = self.reason
