"""Notification subscriptions as use cases: create, change, pause, resume and remove one, list a
tenant's, and find those an escalation is for.

Subscriptions are saved through the alerts' application, like escalation policies, so who was
set to hear of what is on the one log auditors replay. Commands need `escalations:manage`, reads
`escalations:read` (checked at the boundaries). Blocking: async callers go through a thread.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.utils import get_topic

from vigil.application.alert_desk import AlertDesk
from vigil.application.log_changes import changed_since
from vigil.domain.errors import DomainError
from vigil.domain.subscription import (
    ChannelKind,
    Destination,
    Interests,
    Subscription,
    subscription_id,
)

TOPICS = [
    get_topic(event)
    for event in (
        Subscription.Created,
        Subscription.Changed,
        Subscription.Paused,
        Subscription.Resumed,
        Subscription.Removed,
    )
]


class SubscriptionNotFound(DomainError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no notification subscription named {name!r}")
        self.name = name


class SubscriptionNameTaken(DomainError):
    def __init__(self, name: str) -> None:
        super().__init__(f"a subscription named {name!r} exists already")
        self.name = name


@dataclass(frozen=True)
class SubscriptionForm:
    """What a caller says about a subscription; checked by the domain."""

    groups: Sequence[str]
    channel: str
    policies: Sequence[str] = ()
    manual: bool = False
    url: str | None = None
    secret: str | None = None
    """A webhook's signing secret; left out, one is made (on create) or kept (on change)."""
    recipients: Sequence[str] = ()
    description: str = ""

    def interests(self) -> Interests:
        return Interests.of(list(self.groups), list(self.policies), self.manual)

    def destination(self, current_secret: str | None = None) -> Destination:
        secret = self.secret or current_secret
        if secret is None and self.channel == ChannelKind.WEBHOOK:
            secret = secrets.token_urlsafe(32)
        return Destination.of(self.channel, self.url, secret, list(self.recipients))


def create_subscription(
    desk: AlertDesk, tenant_id: str, actor: str, name: str, form: SubscriptionForm
) -> Subscription:
    """A new subscription; a webhook's secret is made here unless given, and the caller shows it
    once. SubscriptionNameTaken if the name is used, removed subscriptions' included."""
    if find_subscription(desk, tenant_id, name, removed_too=True) is not None:
        raise SubscriptionNameTaken(name.strip())
    subscription = Subscription.create(
        tenant_id, actor, desk.clock(), name, form.interests(), form.destination(), form.description
    )
    desk.save(subscription)
    return subscription


def change_subscription(
    desk: AlertDesk, tenant_id: str, actor: str, name: str, form: SubscriptionForm
) -> Subscription:
    subscription = get_subscription(desk, tenant_id, name)
    destination = form.destination(subscription.destination.secret)
    if subscription.change(actor, desk.clock(), form.interests(), destination, form.description):
        desk.save(subscription)
    return subscription


def pause_subscription(
    desk: AlertDesk, tenant_id: str, actor: str, name: str, reason: str
) -> Subscription:
    subscription = get_subscription(desk, tenant_id, name)
    subscription.pause(actor, desk.clock(), reason)
    desk.save(subscription)
    return subscription


def resume_subscription(
    desk: AlertDesk, tenant_id: str, actor: str, name: str, reason: str
) -> Subscription:
    subscription = get_subscription(desk, tenant_id, name)
    subscription.resume(actor, desk.clock(), reason)
    desk.save(subscription)
    return subscription


def remove_subscription(
    desk: AlertDesk, tenant_id: str, actor: str, name: str, reason: str
) -> Subscription:
    subscription = get_subscription(desk, tenant_id, name)
    subscription.remove(actor, desk.clock(), reason)
    desk.save(subscription)
    return subscription


def find_subscription(
    desk: AlertDesk, tenant_id: str, name: str, removed_too: bool = False
) -> Subscription | None:
    found = desk.owned(tenant_id, subscription_id(tenant_id, name), Subscription)
    if found is None or (found.removed and not removed_too):
        return None
    return found


def get_subscription(desk: AlertDesk, tenant_id: str, name: str) -> Subscription:
    found = find_subscription(desk, tenant_id, name)
    if found is None:
        raise SubscriptionNotFound(name)
    return found


class SubscriptionDirectory:
    """Every tenant's subscriptions as of the last `refresh`, which reads only the subscription
    events stored since the one before."""

    def __init__(self, desk: AlertDesk) -> None:
        self.desk = desk
        self.position = 0
        self._found: dict[UUID, Subscription] = {}

    def refresh(self) -> None:
        self.position, changed = changed_since(self.desk, self.position, TOPICS, Subscription)
        self._found.update((s.id, s) for s in changed)

    def of_tenant(self, tenant_id: str, removed_too: bool = False) -> list[Subscription]:
        """Refreshed, then the tenant's subscriptions by name."""
        self.refresh()
        found = [
            s
            for s in self._found.values()
            if s.tenant_id == tenant_id and (removed_too or not s.removed)
        ]
        return sorted(found, key=lambda s: s.name)

    def receivers(
        self, tenant_id: str, policy: str | None, notify: Sequence[str]
    ) -> list[Subscription]:
        """The tenant's active subscriptions that an escalation by `policy` telling `notify`
        is for."""
        return [s for s in self.of_tenant(tenant_id) if s.receives(policy, tuple(notify))]


def list_subscriptions(desk: AlertDesk, tenant_id: str) -> list[Subscription]:
    return SubscriptionDirectory(desk).of_tenant(tenant_id)
