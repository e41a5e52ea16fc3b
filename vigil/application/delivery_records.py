"""Deliveries on the record: scheduled as an escalation fans out, each attempt's outcome stored
before its stream message is acknowledged, and read back for the alert's timeline.

A sender killed between a receiver's 2xx and the record leaves the order unacknowledged: it comes
again, finds the attempt unrecorded and sends once more with the same idempotency key, which the
receiver drops. A sender that finds the delivery settled (the record made, the ack lost)
acknowledges without sending. Blocking: async callers go through a thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from vigil.application.alert_desk import AlertDesk, TimelineEntry
from vigil.application.delivery import AlertSummary, AttemptResult, DeliveryOrder, alert_summary
from vigil.application.domain_events import DomainEventNotice
from vigil.application.notifications import SubscriptionDirectory
from vigil.domain.alert import Alert
from vigil.domain.delivery import Delivery, delivery_id, idempotency_key
from vigil.domain.errors import AlertNotFound
from vigil.domain.subscription import Subscription

DELIVERY_ACTOR = "system:delivery"


def orders_for(
    desk: AlertDesk, directory: SubscriptionDirectory, notice: DomainEventNotice
) -> list[DeliveryOrder]:
    """The orders an Alert.Escalated notice makes, one per subscription it is for, each with its
    Delivery scheduled (in one save); deliveries settled already make no order again."""
    data, tenant_id = notice.data, notice.tenant_id
    policy, notify = data.get("policy"), data.get("notify") or []
    receivers = directory.receivers(tenant_id, policy, notify)
    if not receivers:
        return []
    try:
        alert = desk.get_alert(tenant_id, notice.aggregate_id)
    except AlertNotFound:
        return []
    summary = alert_summary(alert)
    orders = [_order(notice, summary, s) for s in receivers]
    deliveries = _scheduled(desk, tenant_id, notice, orders)
    return [o for o in orders if not deliveries[o.delivery_id].settled]


def _order(
    notice: DomainEventNotice, alert: AlertSummary, subscription: Subscription
) -> DeliveryOrder:
    data = notice.data
    key = idempotency_key(
        notice.aggregate_id,
        data.get("policy"),
        data.get("step_after_minutes"),
        data.get("occurrence"),
        subscription.id,
        notice.notification_id,
    )
    return DeliveryOrder(
        key=key,
        delivery_id=delivery_id(
            notice.tenant_id, notice.aggregate_id, notice.version, subscription.id
        ),
        tenant_id=notice.tenant_id,
        channel=str(subscription.destination.kind),
        subscription_id=subscription.id,
        subscription=subscription.name,
        alert=alert,
        policy=data.get("policy"),
        step_after_minutes=data.get("step_after_minutes"),
        occurrence=data.get("occurrence"),
        level=int(data.get("level", 0)),
        reason=str(data.get("reason", "")),
        escalated_at=notice.at,
        escalation_version=notice.version,
    )


def _scheduled(
    desk: AlertDesk, tenant_id: str, notice: DomainEventNotice, orders: Sequence[DeliveryOrder]
) -> dict[UUID, Delivery]:
    for _ in range(2):
        found = {o.delivery_id: desk.owned(tenant_id, o.delivery_id, Delivery) for o in orders}
        new = [_schedule(desk, notice, o) for o in orders if found[o.delivery_id] is None]
        try:
            desk.save(*new)
        except IntegrityError:
            continue  # another worker scheduled some of them meanwhile: read them again
        return {**{k: v for k, v in found.items() if v is not None}, **{d.id: d for d in new}}
    raise RuntimeError(f"deliveries of notification {notice.notification_id} keep changing")


def _schedule(desk: AlertDesk, notice: DomainEventNotice, order: DeliveryOrder) -> Delivery:
    return Delivery.schedule(
        order.tenant_id,
        DELIVERY_ACTOR,
        desk.clock(),
        notice.aggregate_id,
        notice.version,
        order.subscription_id,
        order.subscription,
        order.channel,
        order.key,
    )


@dataclass(frozen=True)
class SendingState:
    """What a sender reads before an attempt."""

    delivery: Delivery
    subscription: Subscription | None
    """None if it is gone from the event store (it never is, but a removed one answers so)."""


def sending_state(desk: AlertDesk, order: DeliveryOrder) -> SendingState:
    delivery = desk.owned(order.tenant_id, order.delivery_id, Delivery)
    if delivery is None:
        raise LookupError(f"delivery {order.key} was never scheduled")
    found = desk.owned(order.tenant_id, order.subscription_id, Subscription)
    return SendingState(delivery, None if found is None or found.removed else found)


def record_attempt(
    desk: AlertDesk, order: DeliveryOrder, result: AttemptResult, max_attempts: int
) -> Delivery:
    """Stores the attempt's outcome (and Delivered or DeadLettered where it settles it)."""
    delivery = sending_state(desk, order).delivery
    delivery.attempt(
        DELIVERY_ACTOR, desk.clock(), result.outcome, result.status, result.error, max_attempts
    )
    desk.save(delivery)
    return delivery


def record_dead_letter(desk: AlertDesk, order: DeliveryOrder, reason: str) -> Delivery:
    delivery = sending_state(desk, order).delivery
    delivery.dead_letter(DELIVERY_ACTOR, desk.clock(), reason)
    desk.save(delivery)
    return delivery


def timeline_with_deliveries(
    desk: AlertDesk, tenant_id: str, alert_id: UUID
) -> list[TimelineEntry]:
    """The alert's timeline (`AlertDesk.timeline`, AlertNotFound for another tenant's) with its
    deliveries' events, each after the escalation it tells: what GraphQL and the console show."""
    history = desk.timeline(tenant_id, alert_id)
    deliveries = delivery_entries(desk, tenant_id, alert_id, history)
    return sorted([*history, *deliveries], key=lambda entry: entry.at) if deliveries else history


def delivery_entries(
    desk: AlertDesk, tenant_id: str, alert_id: UUID, history: Sequence[TimelineEntry]
) -> list[TimelineEntry]:
    """The alert's deliveries' events, as timeline entries: `Delivery<Event>` (DeliveryScheduled,
    DeliveryAttempted, DeliveryDelivered, DeliveryDeadLettered) with the subscription, channel
    and idempotency key in the details, placed at the Escalated event's version."""
    escalations = [e.version for e in history if e.event == Alert.Escalated.__name__]
    if not escalations:
        return []
    subscriptions = SubscriptionDirectory(desk).of_tenant(tenant_id, removed_too=True)
    entries: list[TimelineEntry] = []
    for version in escalations:
        for subscription in subscriptions:
            found = delivery_id(tenant_id, alert_id, version, subscription.id)
            delivery = desk.owned(tenant_id, found, Delivery)
            if delivery is not None:
                entries.extend(_entries(desk, delivery, version))
    return entries


def _entries(desk: AlertDesk, delivery: Delivery, version: int) -> list[TimelineEntry]:
    about = {
        "subscription": delivery.subscription,
        "channel": delivery.channel,
        "key": delivery.key,
    }
    hidden = {"originator_id", "originator_version", "timestamp", "originator_topic", "actor"}
    hidden |= {"tenant_id", "alert_id", "subscription_id", "escalation_version"}
    return [
        TimelineEntry(
            version=version,
            event=f"Delivery{type(event).__name__}",
            actor=event.actor,
            at=event.timestamp,
            details={**about, **{k: v for k, v in vars(event).items() if k not in hidden}},
        )
        for event in desk.events.get(delivery.id)
        if isinstance(event, Delivery.Event)
    ]
