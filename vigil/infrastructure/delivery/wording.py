"""What every channel says about an escalation, in the same words."""

from __future__ import annotations

from uuid import UUID

from vigil.application.delivery import DeliveryOrder


def console_link(public_url: str, alert_id: UUID) -> str:
    return f"{public_url.rstrip('/')}/alerts/{alert_id}"


def headline(order: DeliveryOrder) -> str:
    alert = order.alert
    return f"{alert.severity.upper()} alert on {alert.source}: escalated (level {order.level})"


def step_text(order: DeliveryOrder) -> str:
    if order.policy is None:
        return f"escalated by hand: {order.reason}"
    return (
        f"policy {order.policy}, step after {order.step_after_minutes} min, "
        f"notification {order.occurrence}: {order.reason}"
    )


def facts(order: DeliveryOrder) -> list[tuple[str, str]]:
    alert = order.alert
    return [
        ("Severity", alert.severity),
        ("Score", f"{alert.score:.3f}"),
        ("Source", alert.source),
        ("Entity", alert.entity_id or "-"),
        ("Record", alert.record_id),
        ("Model line", alert.model_line),
        ("Raised at", alert.raised_at.isoformat()),
    ]
