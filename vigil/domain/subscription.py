"""The Subscription aggregate: which escalations one receiver hears of, and where it hears them.

A subscription receives the escalations whose policy step notifies one of its groups ("on-call",
"team-lead"), optionally only those of some policies, and escalations by hand if it says so. It
delivers them to one destination: a signed generic webhook, a Slack incoming webhook, or email
recipients (the SMTP server is the install's). A webhook's signing secret is the subscription's
own and never leaves the event store but as its fingerprint.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from vigil.domain.errors import InvalidCommand
from vigil.domain.escalation_policy import NAME
from vigil.domain.stamps import event_stamp
from vigil.domain.text import bounded_text

SUBSCRIPTION_NAMESPACE = UUID("9b4e2f61-3c7a-5d18-b0e4-6a2c8f1d5e37")
MIN_SECRET = 16
MAX_NAMES = 20
MAX_RECIPIENTS = 20
_EMAIL = re.compile(r"[^@\s,<>]+@[^@\s,<>]+\.[^@\s,<>]+")


class ChannelKind(StrEnum):
    """How a subscription is told; also the last token of its delivery subject."""

    WEBHOOK = "webhook"
    SLACK = "slack"
    EMAIL = "email"


def subscription_id(tenant_id: str, name: str) -> UUID:
    """A subscription's name is unique within its tenant."""
    return uuid5(SUBSCRIPTION_NAMESPACE, f"{tenant_id}\x1f{name.strip()}")


def secret_fingerprint(secret: str) -> str:
    """What may be shown of a signing secret: enough to tell two apart, nothing to sign with."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Destination:
    """Where deliveries go; which fields matter depends on the kind."""

    kind: ChannelKind
    url: str | None = None
    """The webhook's or Slack's URL."""
    secret: str | None = None
    """The webhook's signing secret."""
    recipients: tuple[str, ...] = ()
    """The email addresses."""

    @classmethod
    def of(
        cls,
        kind: str,
        url: str | None = None,
        secret: str | None = None,
        recipients: tuple[str, ...] | list[str] = (),
    ) -> Destination:
        """A checked destination, or InvalidCommand naming the field at fault."""
        try:
            channel = ChannelKind(kind)
        except ValueError:
            known = ", ".join(k.value for k in ChannelKind)
            raise InvalidCommand("channel", f"{kind!r} is no channel: use {known}") from None
        if channel is ChannelKind.EMAIL:
            return cls(channel, recipients=_recipients(recipients))
        checked = _url(url)
        if channel is ChannelKind.SLACK:
            return cls(channel, url=checked)
        if secret is None or len(secret.strip()) < MIN_SECRET:
            raise InvalidCommand("secret", f"a webhook secret has at least {MIN_SECRET} characters")
        return cls(channel, url=checked, secret=secret.strip())

    def to_event(self) -> dict[str, Any]:
        return {
            "channel": str(self.kind),
            "url": self.url,
            "secret": self.secret,
            "recipients": list(self.recipients),
        }


@dataclass(frozen=True)
class Interests:
    """Which escalations a subscription receives."""

    groups: tuple[str, ...]
    policies: tuple[str, ...] = ()
    """Only these policies' escalations; empty means every policy's."""
    manual: bool = False
    """Escalations by hand too, which name no group."""

    @classmethod
    def of(
        cls,
        groups: list[str] | tuple[str, ...],
        policies: list[str] | tuple[str, ...] = (),
        manual: bool = False,
    ) -> Interests:
        checked = cls(_names("groups", groups), _names("policies", policies), manual)
        if not checked.groups and not manual:
            raise InvalidCommand("groups", "name at least one group, or receive manual escalations")
        return checked

    def include(self, policy: str | None, notify: list[str] | tuple[str, ...]) -> bool:
        if policy is None:
            return self.manual
        if self.policies and policy not in self.policies:
            return False
        return any(group in self.groups for group in notify)

    def to_event(self) -> dict[str, Any]:
        return {"groups": list(self.groups), "policies": list(self.policies), "manual": self.manual}


class Subscription(Aggregate):
    """One receiver of a tenant's escalations; paused, it receives nothing until resumed."""

    class Event(Aggregate.Event):
        tenant_id: str
        actor: str

    class Created(Event, Aggregate.Created):
        name: str
        groups: list[str]
        policies: list[str]
        manual: bool
        channel: str
        url: str | None
        secret: str | None
        recipients: list[str]
        description: str

    def __init__(
        self,
        tenant_id: str,
        actor: str,
        name: str,
        groups: list[str],
        policies: list[str],
        manual: bool,
        channel: str,
        url: str | None,
        secret: str | None,
        recipients: list[str],
        description: str,
    ) -> None:
        self.tenant_id = tenant_id
        self.name = name
        self.created_by = actor
        self.description = description
        self.interests = Interests(tuple(groups), tuple(policies), manual)
        self.destination = Destination(ChannelKind(channel), url, secret, tuple(recipients))
        self.paused = False
        self.removed = False

    @classmethod
    def create(
        cls,
        tenant_id: str,
        actor: str,
        at: datetime,
        name: str,
        interests: Interests,
        destination: Destination,
        description: str = "",
    ) -> Subscription:
        name = name.strip()
        if not NAME.fullmatch(name):
            raise InvalidCommand("name", "lower-case letters, digits, - and _; up to 64")
        return cls._create(
            cls.Created,
            id=subscription_id(tenant_id, name),
            **event_stamp(tenant_id, actor, at),
            name=name,
            **interests.to_event(),
            **destination.to_event(),
            description=bounded_text("description", description),
        )

    @property
    def active(self) -> bool:
        return not (self.paused or self.removed)

    @property
    def secret_fingerprint(self) -> str | None:
        secret = self.destination.secret
        return None if secret is None else secret_fingerprint(secret)

    def receives(self, policy: str | None, notify: list[str] | tuple[str, ...]) -> bool:
        """Whether an escalation by `policy` (None: by hand) telling `notify` is this one's."""
        return self.active and self.interests.include(policy, notify)

    # Invariants -------------------------------------------------------------------------------

    def check_not_removed(self) -> None:
        if self.removed:
            raise InvalidCommand("name", f"subscription {self.name} was removed")

    # Commands ---------------------------------------------------------------------------------

    def change(
        self,
        actor: str,
        at: datetime,
        interests: Interests,
        destination: Destination,
        description: str,
    ) -> bool:
        """Records the new interests and destination; False, recording nothing, if unchanged."""
        self.check_not_removed()
        description = bounded_text("description", description)
        same = (interests, destination, description)
        if same == (self.interests, self.destination, self.description):
            return False
        self.trigger_event(
            self.Changed,
            **event_stamp(self.tenant_id, actor, at),
            **interests.to_event(),
            **destination.to_event(),
            description=description,
        )
        return True

    def pause(self, actor: str, at: datetime, reason: str) -> None:
        self.check_not_removed()
        if self.paused:
            raise InvalidCommand("name", f"subscription {self.name} is paused already")
        self.trigger_event(self.Paused, **event_stamp(self.tenant_id, actor, at, reason))

    def resume(self, actor: str, at: datetime, reason: str) -> None:
        self.check_not_removed()
        if not self.paused:
            raise InvalidCommand("name", f"subscription {self.name} is not paused")
        self.trigger_event(self.Resumed, **event_stamp(self.tenant_id, actor, at, reason))

    def remove(self, actor: str, at: datetime, reason: str) -> None:
        """For good: the name stays taken, so past deliveries keep pointing at this history."""
        self.check_not_removed()
        self.trigger_event(self.Removed, **event_stamp(self.tenant_id, actor, at, reason))

    # Events -----------------------------------------------------------------------------------

    class Changed(Event):
        groups: list[str]
        policies: list[str]
        manual: bool
        channel: str
        url: str | None
        secret: str | None
        recipients: list[str]
        description: str

        def apply(self, subscription: Subscription) -> None:
            subscription.interests = Interests(
                tuple(self.groups), tuple(self.policies), self.manual
            )
            subscription.destination = Destination(
                ChannelKind(self.channel), self.url, self.secret, tuple(self.recipients)
            )
            subscription.description = self.description

    class Paused(Event):
        reason: str

        def apply(self, subscription: Subscription) -> None:
            subscription.paused = True

    class Resumed(Event):
        reason: str

        def apply(self, subscription: Subscription) -> None:
            subscription.paused = False

    class Removed(Event):
        reason: str

        def apply(self, subscription: Subscription) -> None:
            subscription.removed = True


def _names(field: str, values: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(value.strip() for value in values))
    if len(names) > MAX_NAMES:
        raise InvalidCommand(field, f"at most {MAX_NAMES} names")
    for index, name in enumerate(names):
        if not NAME.fullmatch(name):
            raise InvalidCommand(f"{field}[{index}]", f"{name!r} is no group or policy name")
    return names


def _url(url: str | None) -> str:
    parts = urlsplit((url or "").strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidCommand("url", "must be an http:// or https:// URL with a host")
    return parts.geturl()


def _recipients(values: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    recipients = tuple(dict.fromkeys(value.strip() for value in values))
    if not 1 <= len(recipients) <= MAX_RECIPIENTS:
        raise InvalidCommand("recipients", f"name 1 to {MAX_RECIPIENTS} email addresses")
    for index, address in enumerate(recipients):
        if not _EMAIL.fullmatch(address):
            raise InvalidCommand(f"recipients[{index}]", f"{address!r} is no email address")
    return recipients
